// Control: GET /metrics, the Prometheus text exposition (format 0.0.4) of
// what the control plane has collected from the workers' stats cells, the
// health checker, the TLS counters and the DNS resolver. Split from
// control.cc; the data is Control's own.
#include <iterator>
#include <string>
#include <string_view>

#include "proxy/control.h"
#include "proxy/http/headers.h"
#include "proxy/server.h"

namespace sluice {

namespace {

// Microseconds as seconds in plain decimal ("0.0025", "12.5", "3"), exact.
void append_seconds(std::string& out, uint64_t us) {
  http::append_uint(out, us / 1000000);
  uint64_t frac = us % 1000000;
  if (frac == 0) return;
  char digits[7];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  int n = 6;
  while (digits[n - 1] == '0') --n;
  out += '.';
  out.append(digits, static_cast<size_t>(n));
}

// A Prometheus label value: backslash, double quote and newline escaped.
void append_label(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_help(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// One histogram series: cumulative buckets from per-bucket counts, +Inf,
// _sum and _count. `labels` is the inside of {} without a trailing comma.
void append_histogram(std::string& out, const char* name, const std::string& labels,
                      const uint64_t (&counts)[kPromBuckets], uint64_t sum_us) {
  auto series = [&](const char* suffix, std::string_view extra) {
    out += name;
    out += suffix;
    out += '{';
    out += labels;
    out += extra;
    out += "} ";
  };
  uint64_t cum = 0;
  for (size_t b = 0; b < kPromBuckets; ++b) {
    cum += counts[b];
    std::string le = ",le=\"";
    if (b < std::size(kPromBoundsUs)) {
      append_seconds(le, kPromBoundsUs[b]);
    } else {
      le += "+Inf";
    }
    le += '"';
    series("_bucket", le);
    http::append_uint(out, cum);
    out += '\n';
  }
  series("_sum", "");
  append_seconds(out, sum_us);
  out += '\n';
  series("_count", "");
  http::append_uint(out, cum);
  out += '\n';
}

}  // namespace

admin::Reply Control::metrics() {
  collect();
  std::string o;
  o.reserve(4096);
  std::string labels;
  auto route_pool = [&](const RouteRt& r, const PoolRt& p) -> const std::string& {
    labels = "route=\"";
    append_label(labels, r.name);
    labels += "\",pool=\"";
    append_label(labels, p.name);
    labels += '"';
    return labels;
  };
  // name{labels,extra} value
  auto sample = [&](const char* name, const std::string& lbl, std::string_view extra, uint64_t v) {
    o += name;
    o += '{';
    o += lbl;
    o += extra;
    o += "} ";
    http::append_uint(o, v);
    o += '\n';
  };

  append_help(o, "sluice_requests_total", "counter",
              "Proxied requests by route, pool and status class.");
  static const char* kClass[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const RouteRt& r : routes_) {
    for (const PoolRt& p : r.pools) {
      for (int k = 1; k < 6; ++k) {
        sample("sluice_requests_total", route_pool(r, p),
               std::string(",code_class=\"") + kClass[k] + "\"", p.cumulative.by_class[k]);
      }
    }
  }
  append_help(o, "sluice_upstream_errors_total", "counter",
              "Upstream failures counted against a pool.");
  for (const RouteRt& r : routes_) {
    for (const PoolRt& p : r.pools) {
      const std::pair<const char*, uint64_t> kinds[] = {{"5xx", p.cumulative.errors_5xx},
                                                        {"connect", p.cumulative.connect_failures},
                                                        {"timeout", p.cumulative.timeouts}};
      for (const auto& [kind, v] : kinds) {
        sample("sluice_upstream_errors_total", route_pool(r, p),
               std::string(",kind=\"") + kind + "\"", v);
      }
    }
  }
  append_help(o, "sluice_route_weight", "gauge", "Effective weight of each pool of a route.");
  for (const RouteRt& r : routes_) {
    for (size_t i = 0; i < r.pools.size(); ++i) {
      sample("sluice_route_weight", route_pool(r, r.pools[i]), "", r.state.weights[i]);
    }
  }
  append_help(o, "sluice_rollbacks_total", "counter",
              "Rollbacks of a pool (automatic and manual).");
  for (const RouteRt& r : routes_) {
    for (const PoolRt& p : r.pools)
      sample("sluice_rollbacks_total", route_pool(r, p), "", p.rollbacks);
  }
  append_help(o, "sluice_upstream_server_healthy", "gauge",
              "1 when a server passes its health checks.");
  for (uint32_t pi = 0; pi < snap_->pools.size(); ++pi) {
    const PoolRuntime& p = snap_->pools[pi];
    for (uint32_t si = 0; si < p.servers.size(); ++si) {
      labels = "pool=\"";
      append_label(labels, p.name);
      labels += "\",server=\"";
      append_label(labels, p.servers[si].text);
      labels += '"';
      sample("sluice_upstream_server_healthy", labels, "", snap_->health->healthy(pi, si) ? 1 : 0);
    }
  }
  append_help(o, "sluice_connections", "gauge", "Client connections.");
  uint64_t active = server_.active_connections();
  uint64_t idle = server_.idle_connections();
  sample("sluice_connections", "state=\"active\"", "", active >= idle ? active - idle : 0);
  sample("sluice_connections", "state=\"idle\"", "", idle);
  append_help(o, "sluice_connections_parked", "gauge",
              "Idle keep-alive client connections parked out of the event loop (a part of idle).");
  o += "sluice_connections_parked ";
  http::append_uint(o, server_.parked_connections());
  o += '\n';
  append_help(o, "sluice_config_reloads_total", "counter", "Configuration reloads.");
  sample("sluice_config_reloads_total", "result=\"success\"", "", reloads_ok_);
  sample("sluice_config_reloads_total", "result=\"failure\"", "", reloads_failed_);

  // Latency histograms.
  struct Hist {
    const char* name;
    const char* help;
    uint64_t Totals::*sum;
    const uint64_t (Totals::*counts)[kPromBuckets];
  };
  const Hist hists[] = {
      {"sluice_request_duration_seconds",
       "Time from a request's first byte to its response's last byte.", &Totals::duration_sum_us,
       &Totals::duration},
      {"sluice_upstream_response_seconds",
       "Time from connecting to (or reusing) an upstream to its response head.",
       &Totals::upstream_sum_us, &Totals::upstream},
  };
  for (const Hist& h : hists) {
    append_help(o, h.name, "histogram", h.help);
    for (const RouteRt& r : routes_) {
      for (const PoolRt& p : r.pools) {
        append_histogram(o, h.name, route_pool(r, p), p.cumulative.*h.counts, p.cumulative.*h.sum);
      }
    }
  }

  uint64_t up_open = 0, up_idle = 0;
  server_.upstream_connections(&up_open, &up_idle);
  append_help(o, "sluice_upstream_connections", "gauge",
              "Upstream connections: active (connecting or carrying a request) and idle.");
  sample("sluice_upstream_connections", "state=\"active\"", "",
         up_open >= up_idle ? up_open - up_idle : 0);
  sample("sluice_upstream_connections", "state=\"idle\"", "", up_idle);

  const tls::HandshakeCounters& hs = *tls_shared_.counters;
  append_help(o, "sluice_tls_handshakes_total", "counter",
              "TLS handshakes by result: full, resumed (ticket or session id), failed.");
  sample("sluice_tls_handshakes_total", "result=\"full\"", "",
         hs.full.load(std::memory_order_relaxed));
  sample("sluice_tls_handshakes_total", "result=\"resumed\"", "",
         hs.resumed.load(std::memory_order_relaxed));
  sample("sluice_tls_handshakes_total", "result=\"failed\"", "",
         hs.failed.load(std::memory_order_relaxed));
  if (snap_->tls) {
    append_help(o, "sluice_certificate_expiry_timestamp_seconds", "gauge",
                "notAfter of each served certificate, seconds since the epoch.");
    for (size_t i = 0; i < snap_->tls->certificate_count(); ++i) {
      const tls::LoadedCertificate& c = snap_->tls->certificate(i);
      labels = "cert=\"";
      append_label(labels, c.files.cert_path);
      labels += "\",name=\"";
      append_label(labels,
                   c.names.empty() ? std::string_view() : std::string_view(c.names.front()));
      labels += '"';
      sample("sluice_certificate_expiry_timestamp_seconds", labels, "",
             static_cast<uint64_t>(c.not_after > 0 ? c.not_after : 0));
    }
  }

  append_help(o, "sluice_rollout_step", "gauge",
              "Current rollout step (1-based) of routes with [route.rollout]; 0 when the "
              "rollout was aborted or taken over by an operator.");
  for (const RouteRt& r : routes_) {
    if (!r.policy.rollout) continue;
    uint64_t step = 0;
    if (r.state.rollout && r.state.rollout->status != routing::RolloutStatus::kAborted) {
      step = r.state.rollout->step + 1;
    }
    labels = "route=\"";
    append_label(labels, r.name);
    labels += '"';
    sample("sluice_rollout_step", labels, "", step);
  }

  append_help(o, "sluice_upstream_ejections_total", "counter",
              "Servers taken out of rotation, by cause: active health checks or "
              "consecutive live-traffic failures (passive).");
  sample("sluice_upstream_ejections_total", "cause=\"active\"", "", health_.ejections_active());
  sample("sluice_upstream_ejections_total", "cause=\"passive\"", "", health_.ejections_passive());

  dns_->append_metrics(o);
  return admin::Reply{200, o, "text/plain; version=0.0.4; charset=utf-8"};
}

}  // namespace sluice
