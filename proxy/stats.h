// Per-worker request counters, read by the control loop without locks.
//
// Each worker writes only its own cells (one writer: a relaxed load and store,
// no lock prefix); the control loop reads every worker's cells and takes the
// difference from its previous reading. Counters only grow, so a reader never
// needs the writer to stop. One StatsBlock per configuration generation:
// [worker][route][slot], where slot is the pool's position in the route's split.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "routing/window.h"

namespace sluice {

struct StatCell {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors_5xx{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> by_class[6]{};  // 0: other, 1: 1xx ... 5: 5xx
  std::atomic<uint64_t> latency[routing::LatencyHistogram::kBuckets]{};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Worker thread only (the cell's owner).
  void record(routing::Outcome outcome, int status, uint64_t latency_us) {
    bump(requests);
    switch (outcome) {
      case routing::Outcome::kUpstream5xx: bump(errors_5xx); break;
      case routing::Outcome::kConnectFailure: bump(connect_failures); break;
      case routing::Outcome::kTimeout: bump(timeouts); break;
      case routing::Outcome::kOk: break;
    }
    int cls = status / 100;
    bump(by_class[(cls >= 1 && cls <= 5) ? cls : 0]);
    bump(latency[routing::LatencyHistogram::bucket_of(latency_us)]);
  }
};

class StatsBlock {
 public:
  // slots[r] = number of pools in route r's split.
  StatsBlock(unsigned workers, std::vector<uint32_t> slots) : slots_(std::move(slots)) {
    for (uint32_t n : slots_) {
      offsets_.push_back(per_worker_);
      per_worker_ += n;
    }
    cells_ = std::make_unique<StatCell[]>(static_cast<size_t>(workers) * per_worker_ + 1);
    workers_ = workers;
  }
  unsigned workers() const { return workers_; }
  size_t routes() const { return slots_.size(); }
  uint32_t slots(size_t route) const { return slots_[route]; }
  StatCell& cell(unsigned worker, size_t route, uint32_t slot) {
    return cells_[static_cast<size_t>(worker) * per_worker_ + offsets_[route] + slot];
  }

 private:
  std::vector<uint32_t> slots_;
  std::vector<size_t> offsets_;
  size_t per_worker_ = 0;
  unsigned workers_ = 0;
  std::unique_ptr<StatCell[]> cells_;
};

}  // namespace sluice
