// Active upstream health checks, run on the main thread's loop for every
// pool with a `health_check` table: one HTTP/1.1 GET of `path` per server
// per `interval`; a 2xx/3xx within `timeout` is a success. After
// `unhealthy` consecutive failures a server stops getting traffic; after
// `healthy` consecutive successes it gets it again. Servers start healthy.
//
// Workers read the verdicts through HealthTable: one atomic flag per server,
// written only here (relaxed; a stale read costs one request at most).
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

struct Snapshot;

class HealthTable {
 public:
  explicit HealthTable(const std::vector<size_t>& servers_per_pool);
  bool healthy(uint32_t pool, uint32_t server) const {
    return flags_[offsets_[pool] + server].load(std::memory_order_relaxed) != 0;
  }
  void set(uint32_t pool, uint32_t server, bool healthy) {
    flags_[offsets_[pool] + server].store(healthy ? 1 : 0, std::memory_order_relaxed);
  }
  // True when the pool has at least one healthy server.
  bool any_healthy(uint32_t pool) const;
  size_t servers(uint32_t pool) const { return sizes_[pool]; }

 private:
  std::vector<size_t> offsets_;
  std::vector<size_t> sizes_;
  std::unique_ptr<std::atomic<uint8_t>[]> flags_;
};

class HealthChecker {
 public:
  explicit HealthChecker(uv_loop_t* loop);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Check the pools of `snap` (its health table gets the verdicts). Stops
  // the checks of the previous snapshot.
  void start(std::shared_ptr<const Snapshot> snap);
  void stop();

 private:
  struct Probe;
  friend struct Probe;
  std::vector<Probe*> probes_;
  uv_loop_t* loop_;
};

}  // namespace sluice
