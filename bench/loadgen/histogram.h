// Histogram: a log-linear bucketed histogram of non-negative integers (the
// load generator records latencies in nanoseconds), in the manner of
// HdrHistogram.
//
//   values [0, 2^(kSubBits+1))      one bucket per value: exact
//   values [2^k, 2^(k+1)), k > kSubBits
//                                   2^kSubBits buckets of width 2^(k-kSubBits)
//
// With kSubBits = 7 every bucket above the exact range is 1/128 of its lower
// bound wide, so a value read back from a bucket is within 0.79 % of every
// value recorded into it (the ≤ 1 % the bench promises). The whole uint64_t
// range is covered: nothing is clamped. record() is O(1) with no allocation;
// the counts live in one fixed-size vector allocated by the constructor.
//
// percentile() follows HdrHistogram's convention: the highest value
// equivalent to the bucket that holds the requested rank (never an
// under-report), capped at the exact maximum recorded.
//
// Thread affinity: none. A Histogram is a plain value; each load-generator
// worker owns one and the results are merged with add() after the workers
// have stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::bench {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 7;
  static constexpr uint64_t kSubCount = uint64_t{1} << kSubBits;  // buckets per power of two
  static constexpr uint64_t kExactLimit = kSubCount * 2;          // below it: one bucket a value

  Histogram();

  void record(uint64_t value) { record(value, 1); }
  void record(uint64_t value, uint64_t count);
  // Adds every count of `other` into this one.
  void add(const Histogram& other);
  void reset();

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // The value at `percent` (0..100] of the recorded values; 0 when empty.
  uint64_t percentile(double percent) const;

  // Bucket arithmetic, public for the tests.
  static size_t bucket_of(uint64_t value);
  static uint64_t lowest_in(size_t bucket);
  static uint64_t highest_in(size_t bucket);
  static size_t bucket_count();

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;  // the mean of up to 2^64 nanosecond values without overflow
};

}  // namespace sluice::bench
