#include "routing/window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace sluice::routing {
namespace {

using std::chrono::milliseconds;

TEST(LatencyHistogram, SmallValuesExactAndBucketsContiguous) {
  for (uint64_t v = 0; v < LatencyHistogram::kSub; ++v) {
    LatencyHistogram h;
    h.record_us(v);
    EXPECT_EQ(h.percentile(0.99), Micros{static_cast<int64_t>(v)});
  }
  // Buckets tile the value range with no gap and no overlap.
  for (size_t b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    EXPECT_EQ(LatencyHistogram::bucket_low(b) + LatencyHistogram::bucket_width(b),
              LatencyHistogram::bucket_low(b + 1));
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(b)), b);
    EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(b + 1) - 1), b);
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, EmptyHasNoPercentile) {
  LatencyHistogram h;
  EXPECT_FALSE(h.percentile(0.99).has_value());
  EXPECT_EQ(h.count(), 0u);
}

// p99 within 5% of the exact p99 (nearest-rank) for several shapes of distribution.
TEST(LatencyHistogram, P99WithinFivePercent) {
  std::mt19937_64 rng(7);
  for (int shape = 0; shape < 4; ++shape) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<uint64_t> xs;
      int n = 100 + static_cast<int>(rng() % 5000);
      for (int i = 0; i < n; ++i) {
        double u = std::uniform_real_distribution<double>(0, 1)(rng);
        double v = shape == 0   ? std::exp(u * std::log(5e7))  // log-uniform 1 µs .. 50 s
                   : shape == 1 ? 200 + u * 2000               // uniform 0.2 .. 2.2 ms
                   : shape == 2
                       ? -std::log(1 - u) * 3000                    // exponential, mean 3 ms
                       : (u < 0.985 ? 800 + u * 100 : 250000 + u);  // fast, with a slow tail
        xs.push_back(static_cast<uint64_t>(v));
      }
      LatencyHistogram h;
      for (uint64_t x : xs) h.record(Micros{static_cast<int64_t>(x)});
      std::sort(xs.begin(), xs.end());
      auto rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(xs.size())));
      double exact = static_cast<double>(xs[rank - 1]);
      double got = static_cast<double>(h.percentile(0.99)->count());
      if (exact >= 16) {
        EXPECT_LE(std::fabs(got - exact) / exact, 0.05)
            << "shape " << shape << " exact " << exact << " got " << got;
      } else {
        EXPECT_EQ(got, exact);
      }
    }
  }
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    auto v = static_cast<uint64_t>(i * 37 % 100000);
    (i % 3 ? a : b).record_us(v);
    all.record_us(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i)
    ASSERT_EQ(a.bucket_count(i), all.bucket_count(i));
  EXPECT_EQ(a.percentile(0.99), all.percentile(0.99));
}

TEST(PoolCounters, RecordMergeAndErrors) {
  PoolCounters w1, w2;
  w1.record(Outcome::kOk, Micros{100});
  w1.record(Outcome::kUpstream5xx, Micros{200});
  w2.record(Outcome::kConnectFailure, Micros{2000});
  w2.record(Outcome::kTimeout, Micros{60000000});
  w2.record(Outcome::kOk, Micros{100});
  w1.merge(w2);
  EXPECT_EQ(w1.requests, 5u);
  EXPECT_EQ(w1.errors_5xx, 1u);
  EXPECT_EQ(w1.connect_failures, 1u);
  EXPECT_EQ(w1.timeouts, 1u);
  EXPECT_EQ(w1.errors(), 3u);
  EXPECT_EQ(w1.latency.count(), 5u);
  w1.clear();
  EXPECT_EQ(w1.requests, 0u);
  EXPECT_EQ(w1.latency.count(), 0u);
}

TEST(SlidingWindow, Geometry) {
  SlidingWindow w(milliseconds(30000));
  EXPECT_EQ(w.window(), milliseconds(30000));
  EXPECT_EQ(w.bucket_width(), milliseconds(3000));
  SlidingWindow tiny(milliseconds(3), 10);
  EXPECT_EQ(tiny.bucket_width(), milliseconds(1));
}

TEST(SlidingWindow, DataExpiresAfterTheWindow) {
  SlidingWindow w(milliseconds(10000), 10);  // 1 s buckets
  w.add(mono_ms(500), 10, 2);
  EXPECT_EQ(w.stats(mono_ms(500)).requests, 10u);
  EXPECT_EQ(w.stats(mono_ms(9000)).requests, 10u);
  EXPECT_EQ(w.stats(mono_ms(9999)).requests, 10u);  // 9.5 s old: still inside
  EXPECT_EQ(w.stats(mono_ms(10000)).requests, 0u);  // its bucket left the window
  EXPECT_EQ(w.stats(mono_ms(100000)).requests, 0u);
  EXPECT_EQ(w.stats(mono_ms(9999)).errors, 2u);
}

TEST(SlidingWindow, SlidesOneBucketAtATime) {
  SlidingWindow w(milliseconds(10000), 10);
  for (int s = 0; s < 30; ++s) {
    w.add(mono_ms(s * 1000 + 10), static_cast<uint64_t>(s) + 1, 0);
    uint64_t expect = 0;
    for (int k = std::max(0, s - 9); k <= s; ++k) expect += static_cast<uint64_t>(k + 1);
    ASSERT_EQ(w.stats(mono_ms(s * 1000 + 20)).requests, expect) << "at " << s << " s";
  }
}

TEST(SlidingWindow, GapLongerThanWindowClearsReusedBuckets) {
  SlidingWindow w(milliseconds(1000), 10);
  w.add(mono_ms(0), 5, 5);
  w.add(mono_ms(5000), 1, 0);  // same ring slot as t=0, 50 buckets later
  auto s = w.stats(mono_ms(5000));
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.errors, 0u);
}

TEST(SlidingWindow, StaleNowCountsInNewestBucket) {
  SlidingWindow w(milliseconds(10000), 10);
  w.add(mono_ms(5000), 1, 0);
  w.add(mono_ms(1000), 1, 1);  // older than the last add: not lost, not in an expired slot
  EXPECT_EQ(w.stats(mono_ms(5000)).requests, 2u);
  EXPECT_EQ(w.stats(mono_ms(14999)).requests, 2u);
  EXPECT_EQ(w.stats(mono_ms(15000)).requests, 0u);
}

TEST(SlidingWindow, MergesPerWorkerCountersAndP99) {
  SlidingWindow w(milliseconds(30000));
  PoolCounters worker[3];
  for (int i = 0; i < 300; ++i) {
    worker[i % 3].record(i % 10 == 0 ? Outcome::kUpstream5xx : Outcome::kOk,
                         Micros{i < 297 ? 1000 : 500000});
  }
  for (auto& c : worker) w.add(mono_ms(1000), c);
  auto s = w.stats(mono_ms(2000));
  EXPECT_EQ(s.requests, 300u);
  EXPECT_EQ(s.errors, 30u);
  EXPECT_DOUBLE_EQ(s.error_rate(), 0.1);
  ASSERT_TRUE(s.p99.has_value());
  EXPECT_NEAR(static_cast<double>(s.p99->count()), 1000.0, 50.0);  // 297 of 300 fast: p99 is fast
  auto totals = w.totals(mono_ms(2000));
  EXPECT_EQ(totals.errors_5xx, 30u);
  EXPECT_EQ(w.p99(mono_ms(2000)), s.p99);
  EXPECT_FALSE(w.p99(mono_ms(40000)).has_value());
}

TEST(SlidingWindow, LatencySpanShorthandAndClear) {
  SlidingWindow w(milliseconds(1000));
  std::vector<Micros> lat(100, Micros{2000});
  lat[99] = Micros{90000};
  lat[98] = Micros{90000};
  w.add(mono_ms(10), 100, 3, lat);
  auto s = w.stats(mono_ms(10));
  EXPECT_EQ(s.requests, 100u);
  EXPECT_EQ(s.errors, 3u);
  EXPECT_NEAR(static_cast<double>(s.p99->count()), 90000.0, 4500.0);
  w.clear();
  EXPECT_EQ(w.stats(mono_ms(10)).requests, 0u);
}

}  // namespace
}  // namespace sluice::routing
