// Per-pool request/error/latency accounting over a sliding time window.
//
// Data flow: each worker counts into its own PoolCounters (plain data, no atomics, never
// shared); a control loop collects them (posting to each worker), merges them into one
// SlidingWindow per (route, pool) and asks the controller for verdicts. None of these types
// is thread-safe; none reads a clock (every call takes `now`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "routing/time_types.h"

namespace sluice::routing {

// Log-bucketed latency histogram in microseconds. Values below 16 µs are exact; above, each
// power of two is split into 16 buckets (bucket width <= 1/16 of its lower bound) and a
// percentile reports the bucket midpoint, so its relative error is at most ~3.2%. Values of
// 2^27 µs (~134 s) and more share the last bucket. Merging is exact (bucket-wise sums).
class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 4;
  static constexpr uint64_t kSub = 1u << kSubBits;  // buckets per power of two
  static constexpr unsigned kMaxExp = 27;           // values >= 2^kMaxExp µs are clamped
  static constexpr size_t kBuckets = kSub + (kMaxExp - kSubBits) * kSub;

  void record(Micros latency, uint64_t count = 1);
  void record_us(uint64_t us, uint64_t count = 1);
  void merge(const LatencyHistogram& other);
  void clear();

  uint64_t count() const { return count_; }
  // The q-quantile (0 < q <= 1; q = 0.99 for p99): the smallest recorded value v such that
  // at least ceil(q * count) samples are <= v, up to bucket resolution. nullopt when empty.
  std::optional<Micros> percentile(double q) const;

  static size_t bucket_of(uint64_t us);
  static uint64_t bucket_low(size_t bucket);    // smallest value in the bucket
  static uint64_t bucket_width(size_t bucket);  // number of distinct values in it
  uint64_t bucket_count(size_t bucket) const { return counts_[bucket]; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

enum class Outcome : uint8_t {
  kOk,              // any response that is not an upstream 5xx (4xx included)
  kUpstream5xx,     // the upstream answered 5xx
  kConnectFailure,  // no connection could be made (after the connect retry)
  kTimeout,         // connect or read timeout
};

// Counters for one (route, pool), plain and mergeable. Every finished request counts once in
// `requests` and at most once in one of the error fields; errors() is the numerator of the
// spec's error rate: (5xx from upstream + connect failures + timeouts) / requests.
struct PoolCounters {
  uint64_t requests = 0;
  uint64_t errors_5xx = 0;
  uint64_t connect_failures = 0;
  uint64_t timeouts = 0;
  LatencyHistogram latency;  // every request with a measured duration, errors included

  uint64_t errors() const { return errors_5xx + connect_failures + timeouts; }
  void record(Outcome outcome, Micros latency);
  void merge(const PoolCounters& other);
  void clear();
};

// What the controller needs from a window.
struct WindowStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::optional<Micros> p99;  // nullopt when there are no latency samples

  double error_rate() const {
    return requests == 0 ? 0.0 : static_cast<double>(errors) / static_cast<double>(requests);
  }
};

// A ring of `buckets` buckets, each covering window / buckets of time. add() goes into the
// bucket of `now`; totals() sums the bucket of `now` and the buckets-1 before it, so the
// covered span is between (buckets-1)/buckets of the window and the whole window, and data
// older than one window never counts. A `now` earlier than a previous add() (a caller whose
// clock reading is slightly stale) counts in the newest bucket instead of being dropped.
class SlidingWindow {
 public:
  explicit SlidingWindow(Millis window = Millis{30000}, unsigned buckets = 10);

  void add(MonoTime now, const PoolCounters& counters);
  // Shorthand: `errors` count as upstream 5xx; each latency is one histogram sample.
  void add(MonoTime now, uint64_t requests, uint64_t errors,
           std::span<const Micros> latencies = {});

  PoolCounters totals(MonoTime now) const;
  WindowStats stats(MonoTime now) const;
  // Requests and errors only (p99 left empty): no histogram merge, for the
  // 100 ms control tick of routes without a latency threshold.
  WindowStats counts(MonoTime now) const;
  std::optional<Micros> p99(MonoTime now) const;

  Millis window() const { return window_; }
  Millis bucket_width() const { return width_; }
  void clear();

 private:
  struct Bucket {
    int64_t epoch = 0;  // now / width_ when the bucket was (re)started
    bool used = false;
    PoolCounters counters;
  };
  int64_t epoch_of(MonoTime now) const;
  Bucket& bucket_for(MonoTime now);
  bool live(const Bucket& b, int64_t now_epoch) const;

  Millis window_;
  Millis width_;
  std::vector<Bucket> buckets_;
  int64_t newest_epoch_ = 0;
  bool any_ = false;
};

}  // namespace sluice::routing
