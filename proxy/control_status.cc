// Control: GET /v1/status and the status page's /status.json (the same
// object plus one minute of per-pool samples). Split from control.cc; the
// data is Control's own.
#include <string>

#include "proxy/control.h"
#include "proxy/control_json.h"
#include "proxy/http/headers.h"
#include "proxy/observe/log.h"
#include "proxy/server.h"
#include "sluice_version.h"

namespace sluice {

admin::Reply Control::status() {
  return admin::Reply{200, status_json(false)};
}

admin::Reply Control::status_page_data() {
  return admin::Reply{200, status_json(true)};
}

std::string Control::status_json(bool with_series) {
  routing::MonoTime now = mono_now();
  routing::WallTime wall = wall_now();
  std::string o;
  o.reserve(2048);
  o += "{\"version\":";
  observe::append_json_string(o, SLUICE_VERSION);
  o += ",\"uptime_s\":";
  http::append_uint(o, (observe::wall_ms() - start_ms_) / 1000);
  o += ",\"workers\":";
  http::append_uint(o, workers_);
  o += ",\"draining\":";
  o += draining_ ? "true" : "false";
  o += ",\"connections\":{\"active\":";
  uint64_t active = server_.active_connections();
  uint64_t idle = server_.idle_connections();
  http::append_uint(o, active >= idle ? active - idle : 0);
  o += ",\"idle\":";
  http::append_uint(o, idle);
  o += ",\"parked\":";
  http::append_uint(o, server_.parked_connections());
  o += "},\"routes\":[";
  for (size_t ri = 0; ri < routes_.size(); ++ri) {
    RouteRt& r = routes_[ri];
    if (ri) o += ",";
    o += "{\"name\":";
    observe::append_json_string(o, r.name);
    o += ",\"baseline\":";
    observe::append_json_string(o, r.pools[r.policy.baseline].name);
    o += ",\"sticky\":";
    observe::append_json_string(o, r.sticky);
    auto weights_obj = [&](const std::vector<uint32_t>& w) {
      o += "{";
      for (size_t i = 0; i < r.pools.size(); ++i) {
        if (i) o += ",";
        append_key(o, r.pools[i].name);
        http::append_uint(o, i < w.size() ? w[i] : 0);
      }
      o += "}";
    };
    o += ",\"configured\":";
    weights_obj(r.configured);
    o += ",\"effective\":";
    weights_obj(r.state.weights);
    o += ",\"operator_set\":";
    o += r.state.operator_set ? "true" : "false";
    o += ",\"policy\":{\"error_rate\":";
    append_real(o, r.policy.error_rate);
    o += ",\"min_requests\":";
    http::append_uint(o, r.policy.min_requests);
    o += ",\"window_s\":";
    http::append_uint(
        o, r.pools.empty() ? 0 : static_cast<uint64_t>(r.pools[0].window.window().count()) / 1000);
    o += ",\"p99_ms\":";
    if (r.policy.p99_latency) {
      append_real(o, static_cast<double>(r.policy.p99_latency->count()) / 1000.0);
    } else {
      o += "null";
    }
    o += "}";
    auto rollback_obj = [&](const routing::RollbackRecord& rec) {
      o += "{\"pool\":";
      observe::append_json_string(o, r.pools[rec.pool].name);
      o += ",\"reason\":";
      observe::append_json_string(o, routing::to_string(rec.reason));
      o += ",\"observed_rate\":";
      append_real(o, rec.observed_rate);
      o += ",\"requests\":";
      http::append_uint(o, rec.requests);
      o += ",\"weight_moved\":";
      http::append_uint(o, rec.weight_moved);
      o += ",\"at\":";
      observe::append_json_string(o, routing::format_utc(rec.at));
      o += "}";
    };
    o += ",\"rollback\":";
    if (r.state.rollbacks.empty()) {
      o += "null";
    } else {
      rollback_obj(r.state.rollbacks.back());
    }
    o += ",\"rollbacks\":[";
    for (size_t i = 0; i < r.state.rollbacks.size(); ++i) {
      if (i) o += ",";
      rollback_obj(r.state.rollbacks[i]);
    }
    o += "],\"rollout\":";
    if (!r.state.rollout || !r.policy.rollout) {
      o += "null";
    } else {
      const routing::RolloutState& ro = *r.state.rollout;
      const auto& steps = r.policy.rollout->steps;
      o += "{\"step\":";
      http::append_uint(o, ro.step);
      o += ",\"steps\":[";
      for (size_t i = 0; i < steps.size(); ++i) {
        if (i) o += ",";
        http::append_uint(o, steps[i]);
      }
      o += "],\"percent\":";
      http::append_uint(o, steps[std::min<size_t>(ro.step, steps.size() - 1)]);
      o += ",\"status\":";
      observe::append_json_string(o, routing::to_string(ro.status));
      o += ",\"next_step_in_s\":";
      if (ro.status == routing::RolloutStatus::kRunning) {
        double left = static_cast<double>((ro.next_step_at - wall).count()) / 1000.0;
        append_real(o, left < 0 ? 0 : left);
      } else {
        o += "null";
      }
      o += "}";
    }
    o += ",\"pools\":{";
    for (size_t i = 0; i < r.pools.size(); ++i) {
      PoolRt& p = r.pools[i];
      routing::WindowStats ws = p.window.stats(now);
      routing::PoolVerdict v = routing::judge(r.policy, ws);
      if (i) o += ",";
      append_key(o, p.name);
      o += "{\"window_requests\":";
      http::append_uint(o, ws.requests);
      o += ",\"window_errors\":";
      http::append_uint(o, ws.errors);
      o += ",\"error_rate\":";
      append_real(o, ws.error_rate());
      o += ",\"p99_ms\":";
      if (ws.p99) {
        append_real(o, static_cast<double>(ws.p99->count()) / 1000.0);
      } else {
        o += "null";
      }
      o += ",\"verdict\":";
      observe::append_json_string(o, routing::to_string(v.verdict));
      o += ",\"rollbacks\":";
      http::append_uint(o, p.rollbacks);
      if (with_series) {
        const std::pair<const char*, double Sample::*> fields[] = {
            {"requests_per_s", &Sample::requests_per_s},
            {"errors_per_s", &Sample::errors_per_s},
            {"window_error_rate", &Sample::window_error_rate}};
        o += ",\"series\":{\"interval_s\":";
        http::append_uint(o, kSampleMs / 1000);
        for (const auto& [key, field] : fields) {
          o += ",";
          append_key(o, key);
          o += "[";
          for (size_t k = 0; k < p.series.samples.size(); ++k) {
            if (k) o += ",";
            append_real(o, p.series.samples[k].*field);
          }
          o += "]";
        }
        o += "}";
      }
      o += "}";
    }
    o += "}}";
  }
  // Every upstream server and its health-check verdict.
  o += "],\"upstreams\":[";
  bool first = true;
  for (uint32_t pi = 0; pi < snap_->pools.size(); ++pi) {
    const PoolRuntime& p = snap_->pools[pi];
    const bool checked = pi < snap_->config->pools.size() && snap_->config->pools[pi].health_check;
    for (uint32_t si = 0; si < p.servers.size(); ++si) {
      if (!first) o += ",";
      first = false;
      o += "{\"pool\":";
      observe::append_json_string(o, p.name);
      o += ",\"server\":";
      observe::append_json_string(o, p.servers[si].text);
      const bool healthy = snap_->health->healthy(pi, si);
      o += ",\"healthy\":";
      o += healthy ? "true" : "false";
      // Who took it out: traffic (consecutive failures) or the health checks.
      o += ",\"ejected_by\":";
      if (healthy) {
        o += "null";
      } else {
        o += snap_->health->ejected_at(pi, si) != 0 ? "\"passive\"" : "\"active\"";
      }
      o += ",\"health_check\":";
      o += checked ? "true" : "false";
      o += "}";
    }
  }
  // Weight changes, newest first.
  o += "],\"history\":[";
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it != history_.rbegin()) o += ",";
    o += "{\"at\":";
    observe::append_json_string(o, routing::format_utc(it->at));
    o += ",\"route\":";
    observe::append_json_string(o, it->route);
    o += ",\"pool\":";
    if (it->pool.empty()) {
      o += "null";
    } else {
      observe::append_json_string(o, it->pool);
    }
    o += ",\"kind\":";
    observe::append_json_string(o, it->kind);
    o += ",\"reason\":";
    observe::append_json_string(o, it->reason);
    o += ",\"detail\":";
    observe::append_json_string(o, it->detail);
    o += ",\"effective\":{";
    for (size_t i = 0; i < it->effective.size(); ++i) {
      if (i) o += ",";
      append_key(o, it->effective[i].first);
      http::append_uint(o, it->effective[i].second);
    }
    o += "}}";
  }
  o += "]}";
  return o;
}

}  // namespace sluice
