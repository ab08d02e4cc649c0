#include "proxy/control.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "proxy/control_json.h"
#include "proxy/http/headers.h"
#include "proxy/observe/log.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "sluice_version.h"

namespace sluice {

namespace {

constexpr uint64_t kTickMs = 100;
constexpr uint64_t kTicketRotateMs = 12ull * 3600 * 1000;
constexpr size_t kSeriesLen = 60;   // samples kept per pool: one minute
constexpr size_t kHistoryLen = 50;  // weight changes kept for the status page

std::string error_json(std::string_view msg) {
  std::string out = "{\"error\":";
  observe::append_json_string(out, msg);
  out += "}";
  return out;
}

// `{"route":"NAME","dry_run":BOOL` — the common start of a mutation's reply.
std::string mutation_reply_start(std::string_view route, bool dry_run) {
  std::string body = "{\"route\":";
  observe::append_json_string(body, route);
  body += ",\"dry_run\":";
  body += dry_run ? "true" : "false";
  return body;
}

admin::Reply error_reply(int status, std::string_view msg) {
  return admin::Reply{status, error_json(msg)};
}

// 0.523 -> "52.3%"
std::string percent(double rate) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, rate * 100.0, std::chars_format::fixed, 1);
  return std::string(buf, static_cast<size_t>(r.ptr - buf)) + "%";
}

// Writes `data` to `path` atomically: temp file, fsync, rename, fsync dir.
bool write_atomically(const std::string& path, const std::string& data, std::string* error) {
  std::string dir = path.substr(0, path.rfind('/'));
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = "open " + tmp + ": " + std::strerror(errno);
    return false;
  }
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      *error = "write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    *error = "fsync " + tmp + ": " + std::strerror(errno);
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "rename " + tmp + ": " + std::strerror(errno);
    return false;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

bool mkdir_p(const std::string& path) {
  if (path.empty()) return false;
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part;
    if (::mkdir(cur.c_str(), 0750) != 0 && errno != EEXIST) return false;
    cur += "/";
  }
  return true;
}

}  // namespace

Control::Control(Server& server, uv_loop_t* loop) : server_(server), loop_(loop), health_(loop) {}

Control::~Control() = default;

routing::MonoTime Control::mono_now() const {
  return routing::mono_ms(static_cast<int64_t>(uv_now(loop_)));
}

routing::WallTime Control::wall_now() {
  return routing::wall_ms(static_cast<int64_t>(observe::wall_ms()));
}

std::vector<Control::RouteRt> Control::build_routes(const config::Config& cfg) const {
  std::vector<RouteRt> out;
  for (const config::Route& r : cfg.routes) {
    RouteRt rt;
    rt.name = r.name;
    for (uint32_t slot = 0; slot < r.split.size(); ++slot) {
      const config::SplitEntry& e = r.split[slot];
      rt.policy.weights.push_back(e.weight);
      if (e.pool == r.baseline) rt.policy.baseline = slot;
      PoolRt p{
          cfg.pools[e.pool].name, routing::SlidingWindow(r.rollback.window, 10), {}, {}, 0, {}, {}};
      p.seen.latency.assign(routing::LatencyHistogram::kBuckets, 0);
      p.cumulative.latency.assign(routing::LatencyHistogram::kBuckets, 0);
      rt.pools.push_back(std::move(p));
    }
    rt.configured = rt.policy.weights;
    rt.policy.error_rate = r.rollback.error_rate;
    rt.policy.min_requests = r.rollback.min_requests;
    if (r.rollback.p99_latency) {
      rt.policy.p99_latency = std::chrono::duration_cast<routing::Micros>(*r.rollback.p99_latency);
    }
    if (r.rollout) {
      rt.policy.rollout = routing::RolloutPolicy{r.rollout->steps, r.rollout->interval};
    }
    rt.state = routing::initial_state(rt.policy, wall_now());
    switch (r.sticky) {
      case config::Sticky::None:
        rt.sticky = "none";
        break;
      case config::Sticky::Cookie:
        rt.sticky = "cookie";
        break;
      case config::Sticky::Header:
        rt.sticky = "header:" + r.sticky_header;
        break;
      case config::Sticky::Ip:
        rt.sticky = "ip";
        break;
    }
    out.push_back(std::move(rt));
  }
  return out;
}

std::string Control::state_path() const {
  return cfg_->global.state_dir + "/state.json";
}

// Loads state_dir/state.json into `routes`. A corrupt file is set aside and
// reported, never silently dropped: the config's weights apply.
void Control::restore(std::vector<RouteRt>& routes) {
  std::string path = state_path();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno != ENOENT) {
      observe::Event("warn", "state_unreadable")
          .str("path", path)
          .str("error", std::strerror(errno));
    }
    return;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  routing::StateParseResult parsed = routing::parse_state(ss.str());
  if (!parsed.ok()) {
    std::string aside = path + ".corrupt-" + std::to_string(observe::wall_ms());
    ::rename(path.c_str(), aside.c_str());
    observe::Event("error", "state_corrupt")
        .str("path", path)
        .str("error", parsed.error)
        .str("kept_as", aside)
        .str("action", "starting from the configured weights");
    return;
  }
  for (RouteRt& r : routes) {
    for (const routing::PersistedRoute& pr : parsed.routes) {
      if (pr.name != r.name) continue;
      std::vector<std::string> names;
      for (const PoolRt& p : r.pools) names.push_back(p.name);
      std::optional<routing::RouteState> st =
          routing::restore_state(r.policy, names, pr, wall_now());
      if (st) {
        r.state = std::move(*st);
        observe::Event("info", "state_restored").str("route", r.name);
      } else {
        observe::Event("warn", "state_dropped")
            .str("route", r.name)
            .str("reason", "the route's pools changed in the config");
      }
    }
  }
}

bool Control::init(std::shared_ptr<const config::Config> cfg, unsigned workers,
                   std::string* error) {
  workers_ = workers;
  cfg_ = std::move(cfg);
  tls_shared_.ticket_keys = tls::TicketKeys::create(error);
  if (!tls_shared_.ticket_keys) return false;
  tls_shared_.counters = std::make_shared<tls::HandshakeCounters>();
  if (!build_first_snapshot(error)) return false;
  routes_ = build_routes(*cfg_);
  restore(routes_);
  for (const RouteRt& r : routes_) {
    for (const routing::RollbackRecord& rec : r.state.rollbacks) {
      remember(r, rec.at, r.pools[rec.pool].name, "rollback", routing::to_string(rec.reason),
               "in effect at start-up (from state_dir)");
    }
  }
  auto w = std::make_shared<RouteWeights>();
  w->version = 1;
  for (const RouteRt& r : routes_) w->routes.push_back(r.state.weights);
  weights_ = std::move(w);
  start_ms_ = observe::wall_ms();
  return true;
}

void Control::start() {
  uv_timer_init(loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, &Control::on_tick, kTickMs, kTickMs);
  health_.start(snap_);
  // Session ticket keys: rotated every 12 h, the previous key still accepted.
  uv_timer_init(loop_, &ticket_timer_);
  ticket_timer_.data = this;
  uv_timer_start(&ticket_timer_, &Control::on_ticket_timer, kTicketRotateMs, kTicketRotateMs);
  tick_started_ = true;
}

void Control::on_ticket_timer(uv_timer_t* t) {
  auto* self = static_cast<Control*>(t->data);
  if (self->tls_shared_.ticket_keys->rotate()) {
    observe::Event("info", "tls_ticket_keys_rotated")
        .num("generation", static_cast<int64_t>(self->tls_shared_.ticket_keys->generation()));
  }
}

void Control::stop() {
  health_.stop();
  if (dns_) dns_->close();
  if (tick_started_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&ticket_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    tick_started_ = false;
  }
}

void Control::on_tick(uv_timer_t* t) {
  static_cast<Control*>(t->data)->tick();
}

Control::Totals Control::read_totals(StatsBlock& block, size_t route, uint32_t slot) {
  Totals cur;
  cur.latency.assign(routing::LatencyHistogram::kBuckets, 0);
  for (unsigned w = 0; w < block.workers(); ++w) {
    StatCell& c = block.cell(w, route, slot);
    cur.requests += c.requests.load(std::memory_order_acquire);  // first: see stats.h
    cur.errors_5xx += c.errors_5xx.load(std::memory_order_relaxed);
    cur.connect_failures += c.connect_failures.load(std::memory_order_relaxed);
    cur.timeouts += c.timeouts.load(std::memory_order_relaxed);
    for (int k = 0; k < 6; ++k) cur.by_class[k] += c.by_class[k].load(std::memory_order_relaxed);
    for (size_t b = 0; b < kPromBuckets; ++b) {
      cur.duration[b] += c.duration[b].load(std::memory_order_relaxed);
      cur.upstream[b] += c.upstream[b].load(std::memory_order_relaxed);
    }
    cur.duration_sum_us += c.duration_sum_us.load(std::memory_order_relaxed);
    cur.upstream_sum_us += c.upstream_sum_us.load(std::memory_order_relaxed);
    for (size_t b = 0; b < cur.latency.size(); ++b) {
      cur.latency[b] += c.latency[b].load(std::memory_order_relaxed);
    }
  }
  return cur;
}

void Control::Totals::add_growth(const Totals& cur, const Totals& seen) {
  requests += cur.requests - seen.requests;
  errors_5xx += cur.errors_5xx - seen.errors_5xx;
  connect_failures += cur.connect_failures - seen.connect_failures;
  timeouts += cur.timeouts - seen.timeouts;
  for (int k = 0; k < 6; ++k) by_class[k] += cur.by_class[k] - seen.by_class[k];
  for (size_t b = 0; b < latency.size() && b < cur.latency.size(); ++b) {
    latency[b] += cur.latency[b] - seen.latency[b];
  }
  for (size_t b = 0; b < kPromBuckets; ++b) {
    duration[b] += cur.duration[b] - seen.duration[b];
    upstream[b] += cur.upstream[b] - seen.upstream[b];
  }
  duration_sum_us += cur.duration_sum_us - seen.duration_sum_us;
  upstream_sum_us += cur.upstream_sum_us - seen.upstream_sum_us;
}

// Adds what `cur` has beyond `seen` to the pool's window and totals.
void Control::apply(PoolRt& p, Totals& seen, Totals cur, routing::MonoTime now) {
  if (cur.requests == seen.requests) return;
  if (seen.latency.empty()) seen.latency.assign(routing::LatencyHistogram::kBuckets, 0);
  routing::PoolCounters delta;
  delta.requests = cur.requests - seen.requests;
  delta.errors_5xx = cur.errors_5xx - seen.errors_5xx;
  delta.connect_failures = cur.connect_failures - seen.connect_failures;
  delta.timeouts = cur.timeouts - seen.timeouts;
  for (size_t b = 0; b < cur.latency.size(); ++b) {
    uint64_t d = cur.latency[b] - seen.latency[b];
    if (d != 0) delta.latency.record_us(routing::LatencyHistogram::bucket_low(b), d);
  }
  p.cumulative.add_growth(cur, seen);
  p.window.add(now, delta);
  seen = std::move(cur);
}

void Control::collect() {
  StatsBlock& block = *snap_->stats;
  routing::MonoTime now = mono_now();
  for (size_t r = 0; r < routes_.size() && r < block.routes(); ++r) {
    RouteRt& route = routes_[r];
    for (uint32_t slot = 0; slot < route.pools.size() && slot < block.slots(r); ++slot) {
      PoolRt& p = route.pools[slot];
      apply(p, p.seen, read_totals(block, r, slot), now);
    }
  }
  // Requests that started before a reload finish on the old snapshot and
  // count in its block: keep reading it, by route and pool name, until the
  // last of them is gone.
  for (auto it = retired_.begin(); it != retired_.end();) {
    bool last_look = it->block.use_count() == 1;  // no snapshot holds it any more
    for (size_t r = 0; r < it->routes.size(); ++r) {
      RouteRt* route = find_route(it->routes[r]);
      for (uint32_t slot = 0; slot < it->pools[r].size(); ++slot) {
        Totals cur = read_totals(*it->block, r, slot);
        Totals& seen = it->seen[r][slot];
        PoolRt* p = nullptr;
        for (size_t i = 0; route != nullptr && i < route->pools.size(); ++i) {
          if (route->pools[i].name == it->pools[r][slot]) p = &route->pools[i];
        }
        if (p != nullptr) {
          apply(*p, seen, std::move(cur), now);
        } else {
          seen = std::move(cur);  // the route or pool is gone: nowhere to count it
        }
      }
    }
    it = last_look ? retired_.erase(it) : std::next(it);
  }
}

std::vector<routing::WindowStats> Control::window_stats(RouteRt& r, routing::MonoTime now) {
  std::vector<routing::WindowStats> out;
  out.reserve(r.pools.size());
  // The latency histogram is merged only when a threshold needs the p99.
  for (PoolRt& p : r.pools) {
    out.push_back(r.policy.p99_latency ? p.window.stats(now) : p.window.counts(now));
  }
  return out;
}

void Control::tick() {
  collect();
  routing::MonoTime now = mono_now();
  if (!sampled_ || now - last_sample_ >= routing::Millis(kSampleMs)) sample(now);
  bool changed = false;
  std::vector<routing::Evaluation> evals;
  evals.reserve(routes_.size());
  for (RouteRt& r : routes_) {
    std::vector<routing::WindowStats> stats = window_stats(r, now);
    evals.push_back(routing::evaluate(r.policy, r.state, stats, wall_now()));
    const routing::Evaluation& ev = evals.back();
    for (size_t i = 0; i < ev.pools.size() && i < r.pools.size(); ++i)
      r.pools[i].verdict = ev.pools[i];
    changed = changed || ev.weights_changed;
  }
  // The workers get the new weights before anyone reads of the change: a
  // `rollback` or `rollout_step` event states what is already published.
  if (changed) publish();
  for (size_t n = 0; n < routes_.size(); ++n) {
    RouteRt& r = routes_[n];
    const routing::Evaluation& ev = evals[n];
    if (!ev.new_rollbacks.empty()) log_rollbacks(r, ev.new_rollbacks);
    if (ev.rollout_advanced) log_rollout_step(r);
  }
  if (changed) persist();
}

void Control::log_rollout_step(RouteRt& r) {
  const routing::RolloutState& ro = *r.state.rollout;
  observe::Event("info", "rollout_step")
      .str("route", r.name)
      .num("step", ro.step)
      .num("percent", r.policy.rollout->steps[ro.step])
      .str("status", routing::to_string(ro.status));
  const uint32_t canary = r.policy.baseline == 0 && r.pools.size() > 1 ? 1 : 0;
  remember(r, wall_now(), r.pools[canary].name, "rollout", routing::to_string(ro.status),
           "step " + std::to_string(ro.step + 1) + " of " +
               std::to_string(r.policy.rollout->steps.size()) + ": " +
               std::to_string(r.policy.rollout->steps[std::min<size_t>(
                   ro.step, r.policy.rollout->steps.size() - 1)]) +
               "% of traffic");
}

void Control::log_rollbacks(const RouteRt& r, const std::vector<routing::RollbackRecord>& recs) {
  for (const routing::RollbackRecord& rec : recs) {
    if (rec.pool >= r.pools.size()) continue;
    const_cast<PoolRt&>(r.pools[rec.pool]).rollbacks++;
    observe::Event ev("warn", "rollback");
    ev.str("route", r.name)
        .str("pool", r.pools[rec.pool].name)
        .str("baseline", r.pools[r.policy.baseline].name)
        .str("reason", routing::to_string(rec.reason))
        .real("observed_rate", rec.observed_rate)
        .num("requests", static_cast<int64_t>(rec.requests))
        .num("window_s", static_cast<int64_t>(r.pools[rec.pool].window.window().count() / 1000))
        .num("weight_moved", rec.weight_moved);
    if (rec.observed_p99)
      ev.real("p99_ms", static_cast<double>(rec.observed_p99->count()) / 1000.0);
    std::string detail;
    if (rec.reason == routing::Reason::kManual) {
      detail = "by an operator";
    } else if (rec.reason == routing::Reason::kP99Latency && rec.observed_p99) {
      detail = "p99 " + std::to_string(rec.observed_p99->count() / 1000) + " ms over " +
               std::to_string(rec.requests) + " requests";
    } else {
      detail = "error rate " + percent(rec.observed_rate) + " over " +
               std::to_string(rec.requests) + " requests (limit " + percent(r.policy.error_rate) +
               ")";
    }
    detail += "; weight " + std::to_string(rec.weight_moved) + " moved to " +
              r.pools[r.policy.baseline].name;
    if (r.state.rollout && r.state.rollout->status == routing::RolloutStatus::kAborted) {
      detail += "; rollout aborted";
    }
    remember(r, rec.at, r.pools[rec.pool].name, "rollback", routing::to_string(rec.reason),
             std::move(detail));
  }
}

void Control::remember(const RouteRt& r, routing::WallTime at, std::string_view pool,
                       std::string_view kind, std::string_view reason, std::string detail) {
  HistoryEntry e{
      at, r.name, std::string(pool), std::string(kind), std::string(reason), std::move(detail), {}};
  for (size_t i = 0; i < r.pools.size() && i < r.state.weights.size(); ++i) {
    e.effective.emplace_back(r.pools[i].name, r.state.weights[i]);
  }
  history_.push_back(std::move(e));
  if (history_.size() > kHistoryLen) history_.pop_front();
}

// "blue=90,canary=10" (also the audit event's detail)
std::string Control::weights_text(const RouteRt& r, const std::vector<uint32_t>& w) {
  std::string out;
  for (size_t i = 0; i < r.pools.size() && i < w.size(); ++i) {
    if (!out.empty()) out += ",";
    out += r.pools[i].name + "=" + std::to_string(w[i]);
  }
  return out;
}

// Every pool's rate over the last second and its window's error rate.
void Control::sample(routing::MonoTime now) {
  const double secs = static_cast<double>((now - last_sample_).count()) / 1000.0;
  for (RouteRt& r : routes_) {
    for (PoolRt& p : r.pools) {
      Series& s = p.series;
      const uint64_t errors =
          p.cumulative.errors_5xx + p.cumulative.connect_failures + p.cumulative.timeouts;
      if (sampled_ && secs > 0) {
        Sample smp;
        smp.requests_per_s = static_cast<double>(p.cumulative.requests - s.requests) / secs;
        smp.errors_per_s = static_cast<double>(errors - s.errors) / secs;
        smp.window_error_rate = p.window.counts(now).error_rate();
        s.samples.push_back(smp);
        if (s.samples.size() > kSeriesLen) s.samples.pop_front();
      }
      s.requests = p.cumulative.requests;
      s.errors = errors;
    }
  }
  last_sample_ = now;
  sampled_ = true;
}

void Control::publish() {
  auto w = std::make_shared<RouteWeights>();
  w->version = weights_ ? weights_->version + 1 : 1;
  for (const RouteRt& r : routes_) w->routes.push_back(r.state.weights);
  weights_ = w;
  server_.publish_weights(weights_);
}

void Control::persist() {
  std::vector<routing::PersistedRoute> out;
  for (const RouteRt& r : routes_) {
    routing::PersistedRoute pr;
    pr.name = r.name;
    for (const PoolRt& p : r.pools) pr.pools.push_back(p.name);
    pr.state = r.state;
    out.push_back(std::move(pr));
  }
  std::string error;
  if (!mkdir_p(cfg_->global.state_dir)) {
    observe::Event("error", "state_write_failed")
        .str("path", cfg_->global.state_dir)
        .str("error", std::strerror(errno));
    return;
  }
  if (!write_atomically(state_path(), routing::serialize_state(out), &error)) {
    observe::Event("error", "state_write_failed").str("path", state_path()).str("error", error);
  }
}

Control::RouteRt* Control::find_route(std::string_view name) {
  for (RouteRt& r : routes_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

void Control::audit(std::string_view action, std::string_view route, const admin::Caller& who,
                    bool dry_run, std::string_view detail, int status) {
  observe::Event ev("info", "admin");
  ev.str("action", action);
  if (!route.empty()) ev.str("route", route);
  ev.num("uid", who.uid).num("pid", who.pid).flag("dry_run", dry_run).num("status", status);
  if (!detail.empty()) ev.str("detail", detail);
}

// ---------------------------------------------------------------- admin API

admin::Reply Control::set_split(std::string_view route,
                                const std::vector<std::pair<std::string, uint64_t>>& weights,
                                bool dry_run, const admin::Caller& who) {
  auto refuse = [&](int status, const std::string& msg) {
    audit("split", route, who, dry_run, msg, status);
    return error_reply(status, msg);
  };
  RouteRt* r = find_route(route);
  if (r == nullptr) return refuse(404, "no route named \"" + std::string(route) + "\"");
  std::vector<uint32_t> w(r->pools.size(), 0);
  std::vector<bool> given(r->pools.size(), false);
  for (const auto& [name, value] : weights) {
    size_t slot = r->pools.size();
    for (size_t i = 0; i < r->pools.size(); ++i) {
      if (r->pools[i].name == name) slot = i;
    }
    if (slot == r->pools.size()) {
      return refuse(400, "route \"" + r->name + "\" has no pool \"" + name + "\"");
    }
    if (given[slot]) return refuse(400, "pool \"" + name + "\" given twice");
    if (value > 1000000) return refuse(400, "weight of \"" + name + "\" is over 1000000");
    given[slot] = true;
    w[slot] = static_cast<uint32_t>(value);
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (!given[i]) {
      return refuse(400, "weight for pool \"" + r->pools[i].name +
                             "\" is missing (give every pool of the route)");
    }
  }
  routing::RouteState next = r->state;
  std::string err;
  if (!routing::set_weights(r->policy, next, w, &err)) return refuse(400, err);
  std::string detail = weights_text(*r, w);
  audit("split", route, who, dry_run, detail, 200);
  if (!dry_run) {
    r->state = std::move(next);
    remember(*r, wall_now(), "", "split", "operator", "weights set to " + detail);
    // Fresh evidence for the new weights: old failures must not roll back at once.
    for (PoolRt& p : r->pools) p.window.clear();
    publish();
    persist();
  }
  std::string body = mutation_reply_start(r->name, dry_run);
  body += ",\"effective\":{";
  for (size_t i = 0; i < w.size(); ++i) {
    if (i) body += ",";
    append_key(body, r->pools[i].name);
    http::append_uint(body, w[i]);
  }
  body += "}}";
  return admin::Reply{200, body};
}

admin::Reply Control::rollback(std::string_view route, std::optional<std::string_view> pool,
                               bool dry_run, const admin::Caller& who) {
  RouteRt* r = find_route(route);
  if (r == nullptr) {
    audit("rollback", route, who, dry_run, "unknown route", 404);
    return error_reply(404, "no route named \"" + std::string(route) + "\"");
  }
  std::optional<uint32_t> slot;
  if (pool) {
    for (uint32_t i = 0; i < r->pools.size(); ++i) {
      if (r->pools[i].name == *pool) slot = i;
    }
    if (!slot) {
      audit("rollback", route, who, dry_run, "unknown pool", 400);
      return error_reply(400,
                         "route \"" + r->name + "\" has no pool \"" + std::string(*pool) + "\"");
    }
    if (*slot == r->policy.baseline) {
      audit("rollback", route, who, dry_run, "baseline", 400);
      return error_reply(400, "\"" + std::string(*pool) + "\" is the baseline of route \"" +
                                  r->name + "\"; it cannot be rolled back");
    }
  }
  routing::RouteState next = r->state;
  std::vector<routing::WindowStats> stats = window_stats(*r, mono_now());
  std::vector<routing::RollbackRecord> recs =
      routing::manual_rollback(r->policy, next, slot, wall_now(), stats);
  std::string detail = pool ? std::string(*pool) : std::string("all non-baseline pools");
  audit("rollback", route, who, dry_run, detail, 200);
  if (!dry_run && !recs.empty()) {
    r->state = std::move(next);
    publish();
    log_rollbacks(*r, recs);
    persist();
  }
  std::string body = mutation_reply_start(r->name, dry_run);
  body += ",\"rolled_back\":[";
  for (size_t i = 0; i < recs.size(); ++i) {
    if (i) body += ",";
    observe::append_json_string(body, r->pools[recs[i].pool].name);
  }
  body += "]}";
  return admin::Reply{200, body};
}

// The current stats block is about to be replaced (reload, new DNS answers):
// requests still running on it count there, so it is read on, by route and
// pool name, until no snapshot holds it.
void Control::retire_stats() {
  collect();  // the old stats block's counts so far, before its routes go away
  Retired old;
  old.block = snap_->stats;
  for (const RouteRt& r : routes_) {
    old.routes.push_back(r.name);
    std::vector<std::string> names;
    std::vector<Totals> seen;
    for (const PoolRt& p : r.pools) {
      names.push_back(p.name);
      seen.push_back(p.seen);
    }
    old.pools.push_back(std::move(names));
    old.seen.push_back(std::move(seen));
  }
  retired_.push_back(std::move(old));
}

bool Control::reload(bool dry_run, std::string* errors) {
  config::LoadResult res = config::load_file(cfg_->path);
  if (!res.config) {
    for (const auto& d : res.errors) {
      if (!errors->empty()) *errors += "\n";
      *errors += d.str();
    }
    if (!dry_run) ++reloads_failed_;
    return false;
  }
  if (!dry_run) supersede_pending_reload();
  return apply_config(res, dry_run, errors);
}

bool Control::apply_config(const config::LoadResult& res, bool dry_run, std::string* errors) {
  if (!dns_->has_all(dns::host_names(*res.config))) {
    return reload_resolving(res.config, dry_run, errors);  // new host names: see control_dns.cc
  }
  std::string err;
  auto snap = build_snapshot(res.config, workers_, tls_shared_, dns_->answers(), &err);
  if (!snap) {
    *errors = err;
    if (!dry_run) ++reloads_failed_;
    return false;
  }
  if (dry_run) return true;
  // New listen addresses are bound first: a port in use refuses the reload
  // before anything has changed.
  std::shared_ptr<const ListenerPlan> listeners =
      server_.prepare_listeners(*cfg_, *res.config, &err);
  if (!listeners) {
    *errors = err;
    ++reloads_failed_;
    return false;
  }

  retire_stats();

  // Carry runtime state over by route name; a route whose split changed in
  // the file takes the file's weights (and loses its rollback).
  std::vector<RouteRt> next = build_routes(*res.config);
  for (RouteRt& n : next) {
    RouteRt* old = find_route(n.name);
    if (old == nullptr || old->pools.size() != n.pools.size()) continue;
    bool same_pools = true;
    for (size_t i = 0; i < n.pools.size(); ++i)
      same_pools = same_pools && old->pools[i].name == n.pools[i].name;
    if (!same_pools) continue;
    for (size_t i = 0; i < n.pools.size(); ++i) {
      n.pools[i].window = std::move(old->pools[i].window);
      n.pools[i].cumulative = std::move(old->pools[i].cumulative);
      n.pools[i].rollbacks = old->pools[i].rollbacks;
      n.pools[i].series = std::move(old->pools[i].series);
    }
    if (old->configured == n.configured) {
      n.state = old->state;
    } else {
      remember(n, wall_now(), "", "split", "reload",
               "split changed in the config file: " + weights_text(n, n.configured));
    }
  }
  cfg_ = res.config;
  snap_ = snap;
  routes_ = std::move(next);
  auto w = std::make_shared<RouteWeights>();
  w->version = weights_->version + 1;
  for (const RouteRt& r : routes_) w->routes.push_back(r.state.weights);
  weights_ = w;
  health_.carry_over(*snap_);
  server_.publish_snapshot(snap_, weights_, listeners);
  if (tick_started_) health_.start(snap_);
  dns_->retain(dns::host_names(*cfg_));
  persist();
  ++reloads_ok_;
  observe::Event ev("info", "reloaded");
  ev.num("generation", static_cast<int64_t>(snap_->generation));
  if (listeners->changes()) {
    std::string now;
    for (const config::Listener& l : cfg_->listeners) now += (now.empty() ? "" : ",") + l.listen;
    ev.str("listen", now);
  }
  return true;
}

admin::Reply Control::reload(bool dry_run, const admin::Caller& who) {
  std::string errors;
  bool ok = reload(dry_run, &errors);
  audit("reload", "", who, dry_run, ok ? "" : errors, ok ? 200 : 400);
  if (!ok) {
    observe::Event("error", "reload_failed").str("errors", errors);
    return error_reply(400, errors);
  }
  if (!dry_run && !dns_pending_.empty()) return pending_reload_reply();
  return admin::Reply{200, std::string("{\"reloaded\":") + (dry_run ? "false" : "true") +
                               ",\"dry_run\":" + (dry_run ? "true" : "false") + "}"};
}

bool Control::ready() {
  if (draining_) return false;
  for (const RouteRuntime& r : snap_->routes) {
    for (size_t i = 0; i < r.pools.size(); ++i) {
      const std::vector<uint32_t>& w = weights_->routes[&r - snap_->routes.data()];
      if (i < w.size() && w[i] > 0 && !snap_->health->any_healthy(r.pools[i])) return false;
    }
  }
  return true;
}

}  // namespace sluice
