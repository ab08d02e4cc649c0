#include "proxy/health.h"

#include <cstring>
#include <unordered_map>

#include "proxy/observe/log.h"
#include "proxy/snapshot.h"

namespace sluice {

namespace {
constexpr uint64_t kSweepMs = 200;
}  // namespace

HealthTable::HealthTable(const std::vector<size_t>& servers_per_pool,
                         const std::vector<uint32_t>& fail_threshold)
    : sizes_(servers_per_pool) {
  size_t total = 0;
  for (size_t p = 0; p < servers_per_pool.size(); ++p) {
    offsets_.push_back(total);
    total += servers_per_pool[p];
    uint32_t t = p < fail_threshold.size() ? fail_threshold[p] : 0;
    thresholds_.push_back(t > 0 ? t : kPassiveDefaultThreshold);
  }
  slots_ = std::make_unique<Slot[]>(total + 1);
}

bool HealthTable::report_failure(uint32_t pool, uint32_t server, uint64_t now_ms) {
  Slot& s = at(pool, server);
  uint32_t n = s.fails.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < thresholds_[pool]) return false;
  uint64_t expected = 0;
  if (!s.ejected_at.compare_exchange_strong(expected, now_ms != 0 ? now_ms : 1,
                                            std::memory_order_acq_rel)) {
    return false;  // out already
  }
  s.healthy.store(0, std::memory_order_relaxed);
  return true;
}

void HealthTable::readmit(uint32_t pool, uint32_t server, bool half_open) {
  Slot& s = at(pool, server);
  s.fails.store(half_open ? thresholds_[pool] - 1 : 0, std::memory_order_relaxed);
  s.healthy.store(1, std::memory_order_relaxed);
  s.ejected_at.store(0, std::memory_order_release);
}

void HealthTable::inherit(uint32_t pool, uint32_t server, const HealthTable& from,
                          uint32_t old_pool, uint32_t old_server, bool active) {
  const Slot& o = from.at(old_pool, old_server);
  Slot& s = at(pool, server);
  uint64_t ejected = o.ejected_at.load(std::memory_order_acquire);
  s.fails.store(o.fails.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.ejected_at.store(ejected, std::memory_order_release);
  bool healthy = o.healthy.load(std::memory_order_relaxed) != 0;
  if (ejected == 0 && !active) healthy = true;  // nothing would ever re-admit it
  s.healthy.store(healthy ? 1 : 0, std::memory_order_relaxed);
}

bool HealthTable::any_healthy(uint32_t pool) const {
  for (uint32_t s = 0; s < sizes_[pool]; ++s) {
    if (healthy(pool, s)) return true;
  }
  return false;
}

// One server's checks: a repeating interval timer, and per check a fresh TCP
// connection with its own timeout. Lives until stop(); closing waits for the
// handles (deleted in the last close callback).
struct HealthChecker::Probe {
  HealthChecker* owner;
  std::shared_ptr<const Snapshot> snap;
  uint32_t pool;
  uint32_t server;
  uint64_t interval_ms;
  uint64_t timeout_ms;
  uint32_t fall;
  uint32_t rise;
  std::string request;
  uv_timer_t interval{};
  uv_timer_t deadline{};
  uv_tcp_t* tcp = nullptr;  // the check in progress, if any
  uv_connect_t creq{};
  uv_write_t wreq{};
  char buf[256];
  size_t got = 0;
  uint32_t fails = 0;
  uint32_t oks = 0;
  uint64_t seen_ejection = 0;  // the passive ejection these checks are re-admitting from
  int open = 0;
  bool stopping = false;

  const PoolRuntime& p() const { return snap->pools[pool]; }

  void begin() {
    if (tcp != nullptr || stopping) return;  // previous check still running
    tcp = new uv_tcp_t;
    uv_tcp_init(owner->loop_, tcp);
    tcp->data = this;
    got = 0;
    creq.data = this;
    const ServerAddr& sa = p().servers[server];
    if (uv_tcp_connect(&creq, tcp, reinterpret_cast<const sockaddr*>(&sa.sa), &on_connect) != 0) {
      finish(false, "connect failed");
      return;
    }
    uv_timer_start(&deadline, &on_deadline, timeout_ms, 0);
  }

  static void on_connect(uv_connect_t* req, int status) {
    auto* self = static_cast<Probe*>(req->data);
    if (self->tcp == nullptr || reinterpret_cast<uv_tcp_t*>(req->handle) != self->tcp) return;
    if (status < 0) {
      self->finish(false, uv_strerror(status));
      return;
    }
    uv_buf_t b = uv_buf_init(self->request.data(), static_cast<unsigned>(self->request.size()));
    self->wreq.data = self;
    uv_write(&self->wreq, reinterpret_cast<uv_stream_t*>(self->tcp), &b, 1,
             [](uv_write_t*, int) {});
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(self->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* out) {
          auto* s = static_cast<Probe*>(h->data);
          *out = uv_buf_init(s->buf + s->got, static_cast<unsigned>(sizeof s->buf - 1 - s->got));
        },
        &on_read);
  }

  static void on_read(uv_stream_t* st, ssize_t n, const uv_buf_t*) {
    auto* self = static_cast<Probe*>(st->data);
    if (n > 0) self->got += static_cast<size_t>(n);
    // "HTTP/1.x NNN" is all we need.
    if (self->got >= 12 || n < 0 || self->got >= sizeof self->buf - 1) {
      bool ok = self->got >= 12 && std::memcmp(self->buf, "HTTP/1.", 7) == 0 &&
                (self->buf[9] == '2' || self->buf[9] == '3');
      self->finish(ok, ok ? "" : (self->got >= 12 ? "bad status" : "no response"));
    }
  }

  static void on_deadline(uv_timer_t* t) { static_cast<Probe*>(t->data)->finish(false, "timeout"); }

  void finish(bool ok, const char* why) {
    uv_timer_stop(&deadline);
    if (tcp != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      tcp = nullptr;
    }
    HealthTable& table = *snap->health;
    bool was = table.healthy(pool, server);
    if (uint64_t at = table.ejected_at(pool, server); at != 0 && at != seen_ejection) {
      seen_ejection = at;  // passively ejected: re-admission needs `rise` fresh passes
      oks = 0;
    }
    if (ok) {
      fails = 0;
      if (++oks >= rise && !was) flip(true, why);
    } else {
      oks = 0;
      if (++fails >= fall && was) flip(false, why);
    }
  }

  void flip(bool healthy, const char* why) {
    if (healthy) {
      snap->health->readmit(pool, server, false);
      seen_ejection = 0;
    } else {
      snap->health->set(pool, server, false);
      ++owner->ejections_active_;
    }
    observe::Event ev(healthy ? "info" : "warn", "upstream_server_state");
    ev.str("pool", p().name)
        .str("server", p().servers[server].text)
        .str("state", healthy ? "healthy" : "unhealthy");
    ev.str("check", "active");
    if (!healthy) ev.str("reason", why);
  }

  static void on_interval(uv_timer_t* t) { static_cast<Probe*>(t->data)->begin(); }

  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<Probe*>(h->data);
    if (--self->open == 0) delete self;
  }

  void close() {
    stopping = true;
    uv_timer_stop(&deadline);
    if (tcp != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
      tcp = nullptr;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&interval), &on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline), &on_closed);
  }
};

HealthChecker::HealthChecker(uv_loop_t* loop) : loop_(loop) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::carry_over(const Snapshot& next) const {
  if (!snap_ || snap_->health == next.health) return;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> old;
  for (uint32_t pi = 0; pi < snap_->pools.size(); ++pi) {
    const PoolRuntime& p = snap_->pools[pi];
    for (uint32_t si = 0; si < p.servers.size(); ++si) {
      old.emplace(p.name + '\n' + p.servers[si].text, std::make_pair(pi, si));
    }
  }
  const config::Config& cfg = *next.config;
  for (uint32_t pi = 0; pi < next.pools.size(); ++pi) {
    const PoolRuntime& p = next.pools[pi];
    bool active = pi < cfg.pools.size() && cfg.pools[pi].health_check.has_value();
    for (uint32_t si = 0; si < p.servers.size(); ++si) {
      auto it = old.find(p.name + '\n' + p.servers[si].text);
      if (it == old.end()) continue;
      next.health->inherit(pi, si, *snap_->health, it->second.first, it->second.second, active);
    }
  }
}

void HealthChecker::start(std::shared_ptr<const Snapshot> snap) {
  stop_probes();
  const config::Config& cfg = *snap->config;
  snap_ = snap;
  noted_.assign(snap->pools.size(), {});
  checked_.assign(snap->pools.size(), false);
  for (uint32_t pi = 0; pi < snap->pools.size(); ++pi) {
    // An ejection carried over from the previous snapshot was logged then.
    noted_[pi].resize(snap->pools[pi].servers.size());
    for (uint32_t si = 0; si < noted_[pi].size(); ++si)
      noted_[pi][si] = snap->health->ejected_at(pi, si);
    checked_[pi] = pi < cfg.pools.size() && cfg.pools[pi].health_check.has_value();
  }
  if (!sweep_init_) {
    uv_timer_init(loop_, &sweep_timer_);
    sweep_timer_.data = this;
    sweep_init_ = true;
  }
  uv_timer_start(&sweep_timer_, &HealthChecker::on_sweep, kSweepMs, kSweepMs);
  for (uint32_t pi = 0; pi < cfg.pools.size(); ++pi) {
    const config::Pool& pc = cfg.pools[pi];
    if (!pc.health_check) continue;
    for (uint32_t si = 0; si < snap->pools[pi].servers.size(); ++si) {
      auto* pr = new Probe{};
      pr->owner = this;
      pr->snap = snap;
      pr->pool = pi;
      pr->server = si;
      pr->interval_ms = static_cast<uint64_t>(pc.health_check->interval.count());
      pr->timeout_ms = static_cast<uint64_t>(pc.health_check->timeout.count());
      pr->fall = pc.health_check->unhealthy;
      pr->rise = pc.health_check->healthy;
      pr->request = "GET " + pc.health_check->path +
                    " HTTP/1.1\r\nHost: " + snap->pools[pi].servers[si].host +
                    "\r\nUser-Agent: sluice-health-check\r\nConnection: close\r\n\r\n";
      uv_timer_init(loop_, &pr->interval);
      uv_timer_init(loop_, &pr->deadline);
      pr->interval.data = pr;
      pr->deadline.data = pr;
      pr->open = 2;
      // The first check at once, then one per interval.
      uv_timer_start(&pr->interval, &Probe::on_interval, 0, pr->interval_ms);
      probes_.push_back(pr);
    }
  }
}

void HealthChecker::stop_probes() {
  for (Probe* p : probes_) p->close();
  probes_.clear();
  snap_.reset();
}

void HealthChecker::stop() {
  stop_probes();
  if (sweep_init_) {
    uv_timer_stop(&sweep_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
    sweep_init_ = false;
  }
}

void HealthChecker::on_sweep(uv_timer_t* t) {
  static_cast<HealthChecker*>(t->data)->sweep();
}

// Passive ejections made by the workers: log and count each once, and end
// the cool-down of pools without active checks.
void HealthChecker::sweep() {
  if (!snap_) return;
  HealthTable& table = *snap_->health;
  uint64_t now = uv_now(loop_);
  for (uint32_t pi = 0; pi < snap_->pools.size(); ++pi) {
    const PoolRuntime& p = snap_->pools[pi];
    for (uint32_t si = 0; si < p.servers.size(); ++si) {
      uint64_t at = table.ejected_at(pi, si);
      if (at == 0) {
        noted_[pi][si] = 0;
        continue;
      }
      if (noted_[pi][si] != at) {
        noted_[pi][si] = at;
        ++ejections_passive_;
        observe::Event("warn", "upstream_server_state")
            .str("pool", p.name)
            .str("server", p.servers[si].text)
            .str("state", "unhealthy")
            .str("check", "passive")
            .str("reason", "consecutive failures")
            .num("failures", table.threshold(pi));
      }
      if (!checked_[pi] && now >= at + kPassiveCooldownMs) {
        table.readmit(pi, si, true);
        noted_[pi][si] = 0;
        observe::Event("info", "upstream_server_state")
            .str("pool", p.name)
            .str("server", p.servers[si].text)
            .str("state", "healthy")
            .str("check", "passive")
            .str("reason", "cool-down over (half-open)");
      }
    }
  }
}

}  // namespace sluice
