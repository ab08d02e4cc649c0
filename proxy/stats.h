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
#include <iterator>
#include <memory>
#include <vector>

#include "routing/window.h"

namespace sluice {

// Bucket bounds of the exported Prometheus histograms, in microseconds
// (le="0.001" ... le="10" seconds), then +Inf. Counted exactly per bucket,
// apart from the finer window histogram the rollback controller reads.
inline constexpr uint64_t kPromBoundsUs[] = {1000,    2500,    5000,    10000,  25000,
                                             50000,   100000,  250000,  500000, 1000000,
                                             2500000, 5000000, 10000000};
inline constexpr size_t kPromBuckets = std::size(kPromBoundsUs) + 1;
inline size_t prom_bucket(uint64_t us) {
  size_t i = 0;
  while (i < std::size(kPromBoundsUs) && us > kPromBoundsUs[i]) ++i;
  return i;
}

// A counter or gauge with one writing thread: a load and a store, no locked
// instruction; readers on other threads see whole values. Deltas wrap, so a
// gauge goes down by adding static_cast<uint64_t>(-n).
inline void single_writer_add(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct StatCell {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors_5xx{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> by_class[6]{};  // 0: other, 1: 1xx ... 5: 5xx
  std::atomic<uint64_t> latency[routing::LatencyHistogram::kBuckets]{};
  // Prometheus histograms: whole request (first byte in to last byte out) and
  // upstream response time (request sent to response head; only requests an
  // upstream answered).
  std::atomic<uint64_t> duration[kPromBuckets]{};
  std::atomic<uint64_t> duration_sum_us{0};
  std::atomic<uint64_t> upstream[kPromBuckets]{};
  std::atomic<uint64_t> upstream_sum_us{0};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { single_writer_add(c, n); }
  // Worker thread only (the cell's owner).
  // `upstream_us` < 0: no upstream response.
  // `requests` is written last, with release: a reader that loads it with
  // acquire sees every other field of the requests it counts.
  void record(routing::Outcome outcome, int status, uint64_t latency_us, int64_t upstream_us) {
    switch (outcome) {
      case routing::Outcome::kUpstream5xx:
        bump(errors_5xx);
        break;
      case routing::Outcome::kConnectFailure:
        bump(connect_failures);
        break;
      case routing::Outcome::kTimeout:
        bump(timeouts);
        break;
      case routing::Outcome::kOk:
        break;
    }
    int cls = status / 100;
    bump(by_class[(cls >= 1 && cls <= 5) ? cls : 0]);
    bump(latency[routing::LatencyHistogram::bucket_of(latency_us)]);
    bump(duration[prom_bucket(latency_us)]);
    bump(duration_sum_us, latency_us);
    if (upstream_us >= 0) {
      bump(upstream[prom_bucket(static_cast<uint64_t>(upstream_us))]);
      bump(upstream_sum_us, static_cast<uint64_t>(upstream_us));
    }
    requests.store(requests.load(std::memory_order_relaxed) + 1, std::memory_order_release);
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
