// Active upstream health checks, run on the main thread's loop for every
// pool with a `health_check` table: one HTTP/1.1 GET of `path` per server
// per `interval`; a 2xx/3xx within `timeout` is a success. After
// `unhealthy` consecutive failures a server stops getting traffic; after
// `healthy` consecutive successes it gets it again. Servers start healthy.
//
// Workers read the verdicts through HealthTable: one atomic flag per server
// (relaxed; a stale read costs one request at most).
//
// Passive ejection: workers also report each upstream attempt's transport
// result (connect failure, reset, timeout = failure; a response head, any
// status = success). After `threshold` consecutive failures (the pool's
// health_check.unhealthy, default 3) the worker that saw the last one takes
// the server out (flag cleared, ejection time stored); 5xx answers are left
// to the canary rollback. The main loop notices the ejection on its next
// sweep (events, metrics) and re-admits the server: through the active check
// (`healthy` consecutive passes) when the pool has one, else after a
// cool-down of kPassiveCooldownMs, half-open: one more failure ejects again.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

struct Snapshot;

inline constexpr uint32_t kPassiveDefaultThreshold = 3;
inline constexpr uint64_t kPassiveCooldownMs = 10000;

class HealthTable {
 public:
  // `fail_threshold[p]`: consecutive failures that eject a server of pool p
  // (missing or 0: kPassiveDefaultThreshold).
  explicit HealthTable(const std::vector<size_t>& servers_per_pool,
                       const std::vector<uint32_t>& fail_threshold = {});
  bool healthy(uint32_t pool, uint32_t server) const {
    return at(pool, server).healthy.load(std::memory_order_relaxed) != 0;
  }
  void set(uint32_t pool, uint32_t server, bool healthy) {
    at(pool, server).healthy.store(healthy ? 1 : 0, std::memory_order_relaxed);
  }
  // True when the pool has at least one healthy server.
  bool any_healthy(uint32_t pool) const;
  size_t servers(uint32_t pool) const { return sizes_[pool]; }

  // ---- workers: live-traffic results ----
  void report_success(uint32_t pool, uint32_t server) {
    Slot& s = at(pool, server);
    if (s.fails.load(std::memory_order_relaxed) != 0) s.fails.store(0, std::memory_order_relaxed);
  }
  // True when this failure took the server out.
  bool report_failure(uint32_t pool, uint32_t server, uint64_t now_ms);

  // ---- main loop ----
  // Ejection time (ms, a worker loop's clock) of a passively ejected server
  // still out, else 0.
  uint64_t ejected_at(uint32_t pool, uint32_t server) const {
    return at(pool, server).ejected_at.load(std::memory_order_acquire);
  }
  // Back in rotation; `half_open`: one more failure ejects again.
  void readmit(uint32_t pool, uint32_t server, bool half_open);
  uint32_t threshold(uint32_t pool) const { return thresholds_[pool]; }
  // Reload: server (pool, server) continues `from`'s (old_pool, old_server).
  // A passive ejection and its failure count always carry over; an active
  // check's "unhealthy" only when `active` (the pool is still checked, so a
  // check can bring it back).
  void inherit(uint32_t pool, uint32_t server, const HealthTable& from, uint32_t old_pool,
               uint32_t old_server, bool active);

 private:
  struct alignas(64) Slot {  // one cache line per server: workers write `fails`
    std::atomic<uint8_t> healthy{1};
    std::atomic<uint32_t> fails{0};       // consecutive transport failures
    std::atomic<uint64_t> ejected_at{0};  // passive ejection time, 0 = not ejected
  };
  Slot& at(uint32_t pool, uint32_t server) { return slots_[offsets_[pool] + server]; }
  const Slot& at(uint32_t pool, uint32_t server) const { return slots_[offsets_[pool] + server]; }

  std::vector<size_t> offsets_;
  std::vector<size_t> sizes_;
  std::vector<uint32_t> thresholds_;
  std::unique_ptr<Slot[]> slots_;
};

class HealthChecker {
 public:
  explicit HealthChecker(uv_loop_t* loop);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Before `next` is published: its servers that were already in service
  // (same pool name, same server) keep their verdicts, so a reload or a DNS
  // change does not send traffic back to a server known to be down.
  void carry_over(const Snapshot& next) const;
  // Check the pools of `snap` (its health table gets the verdicts). Stops
  // the checks of the previous snapshot.
  void start(std::shared_ptr<const Snapshot> snap);
  void stop();

  // Servers taken out since start, kept across reloads (metrics).
  uint64_t ejections_active() const { return ejections_active_; }
  uint64_t ejections_passive() const { return ejections_passive_; }

 private:
  struct Probe;
  friend struct Probe;
  static void on_sweep(uv_timer_t* t);
  void sweep();
  void stop_probes();

  std::vector<Probe*> probes_;
  uv_loop_t* loop_;
  std::shared_ptr<const Snapshot> snap_;
  std::vector<std::vector<uint64_t>> noted_;  // [pool][server]: ejection already logged
  std::vector<bool> checked_;                 // [pool]: has active checks
  uv_timer_t sweep_timer_{};
  bool sweep_init_ = false;
  uint64_t ejections_active_ = 0;
  uint64_t ejections_passive_ = 0;
};

}  // namespace sluice
