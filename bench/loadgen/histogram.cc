#include "bench/loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::bench {

// Bucket layout. Values below kExactLimit (2^(kSubBits+1)) index themselves.
// A larger value whose highest set bit is k falls in magnitude m = k - kSubBits
// (m >= 1); its top kSubBits+1 bits, v >> m, lie in [kSubCount, 2*kSubCount) and
// pick one of the magnitude's kSubCount buckets. Magnitudes run up to 63 - kSubBits.

size_t Histogram::bucket_count() {
  return kExactLimit + (63 - kSubBits) * kSubCount;
}

size_t Histogram::bucket_of(uint64_t value) {
  if (value < kExactLimit) return static_cast<size_t>(value);
  unsigned magnitude = static_cast<unsigned>(std::bit_width(value)) - 1 - kSubBits;
  uint64_t sub = (value >> magnitude) - kSubCount;
  return static_cast<size_t>(kExactLimit + (magnitude - 1) * kSubCount + sub);
}

uint64_t Histogram::lowest_in(size_t bucket) {
  if (bucket < kExactLimit) return bucket;
  size_t above = bucket - kExactLimit;
  unsigned magnitude = static_cast<unsigned>(above / kSubCount) + 1;
  uint64_t sub = above % kSubCount + kSubCount;
  return sub << magnitude;
}

uint64_t Histogram::highest_in(size_t bucket) {
  if (bucket < kExactLimit) return bucket;
  unsigned magnitude = static_cast<unsigned>((bucket - kExactLimit) / kSubCount) + 1;
  return lowest_in(bucket) + ((uint64_t{1} << magnitude) - 1);
}

Histogram::Histogram() : counts_(bucket_count(), 0) {}

void Histogram::record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  counts_[bucket_of(value)] += count;
  total_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value) * count;
}

void Histogram::add(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return total_ ? static_cast<double>(sum_ / total_) : 0.0;
}

uint64_t Histogram::percentile(double percent) const {
  if (total_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // The rank of the value asked for, 1-based: the smallest value with at least
  // percent % of the recorded values at or below it.
  auto rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_in(i), max_);
  }
  return max_;
}

}  // namespace sluice::bench
