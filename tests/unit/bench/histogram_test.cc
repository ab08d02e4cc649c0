#include "bench/loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace sluice::bench {
namespace {

// The value a sorted sample set holds at `percent`, by the same rank rule as
// Histogram::percentile (the smallest value with percent % at or below it).
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double percent) {
  auto rank = static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_within_one_percent(uint64_t got, uint64_t want, double percent) {
  double err = want ? std::abs(static_cast<double>(got) - static_cast<double>(want)) /
                          static_cast<double>(want)
                    : got;
  EXPECT_LE(err, 0.01) << "p" << percent << ": histogram " << got << ", exact " << want;
  // HdrHistogram's convention: never below the exact value.
  EXPECT_GE(got, want) << "p" << percent;
}

TEST(Histogram, BucketsCoverEveryValueContiguously) {
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::bucket_count() - 1);
  for (size_t b = 0; b + 1 < Histogram::bucket_count(); ++b) {
    ASSERT_EQ(Histogram::highest_in(b) + 1, Histogram::lowest_in(b + 1)) << "bucket " << b;
    ASSERT_EQ(Histogram::bucket_of(Histogram::lowest_in(b)), b);
    ASSERT_EQ(Histogram::bucket_of(Histogram::highest_in(b)), b);
  }
  EXPECT_EQ(Histogram::highest_in(Histogram::bucket_count() - 1), UINT64_MAX);
}

TEST(Histogram, EveryBucketIsNarrowerThanOnePercentOfItsValues) {
  for (size_t b = Histogram::kExactLimit; b < Histogram::bucket_count(); ++b) {
    double width = static_cast<double>(Histogram::highest_in(b) - Histogram::lowest_in(b));
    ASSERT_LT(width / static_cast<double>(Histogram::lowest_in(b)), 0.01) << "bucket " << b;
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, PercentilesOfLogNormalLatenciesMatchSortedSamples) {
  // Latency-like data in nanoseconds: a log-normal body around 1 ms with a long tail.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(1e6), 1.0);
  std::vector<uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    samples.push_back(v);
    h.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99})
    expect_within_one_percent(h.percentile(p), exact_percentile(samples, p), p);
  EXPECT_EQ(h.percentile(100), samples.back());
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.count(), samples.size());
}

TEST(Histogram, MergingEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> small(1000, 50'000);
  std::uniform_int_distribution<uint64_t> large(40'000'000, 60'000'000);
  Histogram a, b, all;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 30000; ++i) {
    uint64_t v = i % 3 ? small(rng) : large(rng);
    (i % 2 ? a : b).record(v);
    all.record(v);
    samples.push_back(v);
  }
  Histogram merged;
  merged.add(a);
  merged.add(b);
  std::sort(samples.begin(), samples.end());
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {50.0, 66.0, 67.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
    expect_within_one_percent(merged.percentile(p), exact_percentile(samples, p), p);
  }
}

TEST(Histogram, EmptyAndReset) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  h.record(123456789, 10);
  EXPECT_EQ(h.count(), 10u);
  EXPECT_EQ(h.percentile(50), 123456789u);  // capped at the exact max
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
}

}  // namespace
}  // namespace sluice::bench
