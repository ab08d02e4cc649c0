#include "routing/window.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::routing {

size_t LatencyHistogram::bucket_of(uint64_t us) {
  if (us < kSub) return static_cast<size_t>(us);
  unsigned exp = static_cast<unsigned>(std::bit_width(us)) - 1;  // floor(log2(us)) >= kSubBits
  if (exp >= kMaxExp) return kBuckets - 1;
  unsigned shift = exp - kSubBits;
  uint64_t sub = (us >> shift) - kSub;  // 0..kSub-1: the kSubBits bits after the leading one
  return static_cast<size_t>(kSub + shift * kSub + sub);
}

uint64_t LatencyHistogram::bucket_low(size_t bucket) {
  if (bucket < kSub) return bucket;
  uint64_t shift = (bucket - kSub) / kSub;
  uint64_t sub = (bucket - kSub) % kSub;
  return (kSub + sub) << shift;
}

uint64_t LatencyHistogram::bucket_width(size_t bucket) {
  if (bucket < kSub) return 1;
  return uint64_t{1} << ((bucket - kSub) / kSub);
}

void LatencyHistogram::record(Micros latency, uint64_t count) {
  record_us(latency.count() < 0 ? 0 : static_cast<uint64_t>(latency.count()), count);
}

void LatencyHistogram::record_us(uint64_t us, uint64_t count) {
  counts_[bucket_of(us)] += count;
  count_ += count;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
}

void LatencyHistogram::clear() {
  counts_.fill(0);
  count_ = 0;
}

std::optional<Micros> LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank; the small slack keeps q * count from rounding just above an integer
  // (0.99 is not exact in binary) and skipping a rank.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_) - 1e-7));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // Midpoint of the bucket: halves the worst-case error of reporting either edge.
      return Micros{static_cast<int64_t>(bucket_low(i) + (bucket_width(i) - 1) / 2)};
    }
  }
  return Micros{
      static_cast<int64_t>(bucket_low(kBuckets - 1))};  // unreachable: counts sum to count_
}

void PoolCounters::record(Outcome outcome, Micros latency) {
  ++requests;
  switch (outcome) {
    case Outcome::kOk:
      break;
    case Outcome::kUpstream5xx:
      ++errors_5xx;
      break;
    case Outcome::kConnectFailure:
      ++connect_failures;
      break;
    case Outcome::kTimeout:
      ++timeouts;
      break;
  }
  this->latency.record(latency);
}

void PoolCounters::merge(const PoolCounters& o) {
  requests += o.requests;
  errors_5xx += o.errors_5xx;
  connect_failures += o.connect_failures;
  timeouts += o.timeouts;
  latency.merge(o.latency);
}

void PoolCounters::clear() {
  *this = PoolCounters{};
}

SlidingWindow::SlidingWindow(Millis window, unsigned buckets)
    : window_(window), buckets_(std::max(1u, buckets)) {
  if (window_ < Millis{1}) window_ = Millis{1};
  width_ = window_ / static_cast<int64_t>(buckets_.size());
  if (width_ < Millis{1}) width_ = Millis{1};
}

int64_t SlidingWindow::epoch_of(MonoTime now) const {
  int64_t t = now.time_since_epoch().count();
  int64_t w = width_.count();
  int64_t e = t / w;
  if (t % w != 0 && t < 0) --e;  // floor division, for callers with a negative epoch
  return e;
}

bool SlidingWindow::live(const Bucket& b, int64_t now_epoch) const {
  return b.used && b.epoch > now_epoch - static_cast<int64_t>(buckets_.size());
}

SlidingWindow::Bucket& SlidingWindow::bucket_for(MonoTime now) {
  int64_t e = epoch_of(now);
  if (any_ && e < newest_epoch_) e = newest_epoch_;
  newest_epoch_ = e;
  any_ = true;
  auto n = static_cast<int64_t>(buckets_.size());
  Bucket& b = buckets_[static_cast<size_t>(((e % n) + n) % n)];
  if (!b.used || b.epoch != e) {
    b.counters.clear();
    b.epoch = e;
    b.used = true;
  }
  return b;
}

void SlidingWindow::add(MonoTime now, const PoolCounters& counters) {
  bucket_for(now).counters.merge(counters);
}

void SlidingWindow::add(MonoTime now, uint64_t requests, uint64_t errors,
                        std::span<const Micros> latencies) {
  PoolCounters& c = bucket_for(now).counters;
  c.requests += requests;
  c.errors_5xx += errors;
  for (Micros l : latencies) c.latency.record(l);
}

PoolCounters SlidingWindow::totals(MonoTime now) const {
  PoolCounters sum;
  int64_t e = epoch_of(now);
  for (const Bucket& b : buckets_) {
    if (live(b, e)) sum.merge(b.counters);
  }
  return sum;
}

WindowStats SlidingWindow::stats(MonoTime now) const {
  PoolCounters t = totals(now);
  return WindowStats{t.requests, t.errors(), t.latency.percentile(0.99)};
}

WindowStats SlidingWindow::counts(MonoTime now) const {
  WindowStats w;
  int64_t e = epoch_of(now);
  for (const Bucket& b : buckets_) {
    if (!live(b, e)) continue;
    w.requests += b.counters.requests;
    w.errors += b.counters.errors();
  }
  return w;
}

std::optional<Micros> SlidingWindow::p99(MonoTime now) const {
  return totals(now).latency.percentile(0.99);
}

void SlidingWindow::clear() {
  for (Bucket& b : buckets_) {
    b.used = false;
    b.counters.clear();
  }
  any_ = false;
  newest_epoch_ = 0;
}

}  // namespace sluice::routing
