#include "routing/split.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::routing {
namespace {

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict, PR 105329) on "lit" + std::string.
std::string cat(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s(a);
  s.append(b).append(c);
  return s;
}

// Checks the WeightedPicker contract over `picks` picks: every window of 100 consecutive
// picks gives each pool a share within 2 percentage points of its weight share, and a
// weight-0 pool is never picked. Returns the worst deviation seen, in picks per 100.
double check_windows(const std::vector<uint32_t>& w, int picks = 3000) {
  WeightedPicker p(w);
  uint64_t total = std::accumulate(w.begin(), w.end(), uint64_t{0});
  std::vector<int> seq(static_cast<size_t>(picks));
  for (int& s : seq) {
    s = p.pick();
    EXPECT_GE(s, 0);
    EXPECT_LT(s, static_cast<int>(w.size()));
    if (s >= 0) {
      EXPECT_NE(w[static_cast<size_t>(s)], 0u) << "weight 0 picked";
    }
  }
  double worst = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    double expect = 100.0 * w[i] / static_cast<double>(total);
    int count = 0;
    for (int t = 0; t < 100; ++t) count += seq[static_cast<size_t>(t)] == static_cast<int>(i);
    for (int t = 100;; ++t) {
      double dev = std::fabs(count - expect);
      worst = std::max(worst, dev);
      EXPECT_LE(dev, 2.0) << "pool " << i << " window ending at " << t;
      if (t == picks) break;
      count += seq[static_cast<size_t>(t)] == static_cast<int>(i);
      count -= seq[static_cast<size_t>(t - 100)] == static_cast<int>(i);
    }
  }
  return worst;
}

TEST(WeightedPicker, NamedVectorsEveryWindowOf100) {
  const std::vector<std::vector<uint32_t>> cases = {
      {1, 99},
      {99, 1},
      {90, 10},
      {95, 5},
      {0, 100},
      {100, 0},
      {33, 33, 34},
      {50, 50},
      {1, 1},
      {1, 2},
      {2, 1, 1},
      {70, 20, 10},
      {1, 1, 1, 1, 1, 1, 1},
      {7, 0, 13, 29},
      {1000000, 1},
      {4000000000u, 1000000000u},
      {1, 0, 0, 0, 0},
      {5},
      {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
  };
  for (const auto& w : cases) {
    SCOPED_TRACE(::testing::PrintToString(w));
    check_windows(w);
  }
}

TEST(WeightedPicker, RandomVectorsEveryWindowOf100) {
  std::mt19937_64 rng(12345);  // fixed seed: deterministic test
  double worst = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    size_t n = 2 + rng() % 10;
    std::vector<uint32_t> w(n);
    uint32_t range = trial % 3 == 0 ? 5 : trial % 3 == 1 ? 101 : 100000;
    for (auto& x : w) x = static_cast<uint32_t>(rng() % range);
    if (std::accumulate(w.begin(), w.end(), uint64_t{0}) == 0) w[0] = 1;
    SCOPED_TRACE(::testing::PrintToString(w));
    worst = std::max(worst, check_windows(w, 1000));
    if (HasFailure()) return;
  }
  RecordProperty("worst_deviation", std::to_string(worst));
  std::printf("[   info   ] worst deviation over every 100-pick window: %.3f picks\n", worst);
}

TEST(WeightedPicker, AllZeroEmptyAndDefault) {
  WeightedPicker def;
  EXPECT_EQ(def.size(), 0u);
  EXPECT_EQ(def.pick(), -1);
  std::vector<uint32_t> zeros{0, 0, 0};
  WeightedPicker z(zeros);
  EXPECT_EQ(z.size(), 3u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(z.pick(), -1);
  std::vector<uint32_t> none;
  WeightedPicker e(none);
  EXPECT_EQ(e.pick(), -1);
}

TEST(WeightedPicker, SmoothInterleaving) {
  std::vector<uint32_t> w{5, 1, 1};  // nginx's documented example: a a b a c a a
  WeightedPicker p(w);
  std::vector<int> got(7);
  for (int& g : got) g = p.pick();
  EXPECT_EQ(got, (std::vector<int>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(WeightedPicker, ResetRestartsState) {
  std::vector<uint32_t> a{90, 10}, b{1, 2, 3};
  WeightedPicker p(a);
  for (int i = 0; i < 37; ++i) p.pick();
  p.reset(b);
  EXPECT_EQ(p.size(), 3u);
  WeightedPicker fresh(b);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(p.pick(), fresh.pick());
  std::vector<uint32_t> zeros{0, 0};
  p.reset(zeros);
  EXPECT_EQ(p.pick(), -1);
}

TEST(HashKey, StableGoldenValues) {
  // Part of the sticky contract: these values must never change between releases, or every
  // sticky client would be reshuffled by an upgrade.
  EXPECT_EQ(hash_key(""), 0xf490368aba8bfeacull);
  EXPECT_EQ(hash_key("a"), 0x234930bf87be8a75ull);
  EXPECT_EQ(hash_key("192.168.1.10"), 0x5f11fcb27c6a1d29ull);
  EXPECT_EQ(hash_key("sluice_pool=0123456789abcdef"), 0xee4862fb107dbf17ull);
}

TEST(HashKey, DistinguishesNearbyKeys) {
  EXPECT_NE(hash_key("a"), hash_key("b"));
  EXPECT_NE(hash_key("abcdefgh"), hash_key(std::string_view("abcdefgh\0", 9)));
  EXPECT_NE(hash_key(std::string_view("\0", 1)), hash_key(""));
  EXPECT_NE(hash_key("10.0.0.1"), hash_key("10.0.0.2"));
}

std::vector<int> assign(const std::vector<uint32_t>& w, int keys) {
  std::vector<int> out;
  out.reserve(static_cast<size_t>(keys));
  for (int k = 0; k < keys; ++k)
    out.push_back(rendezvous_pick(hash_key(cat("client-", std::to_string(k))), w));
  return out;
}

std::vector<double> shares(const std::vector<uint32_t>& w) {
  double total = std::accumulate(w.begin(), w.end(), 0.0);
  std::vector<double> s;
  s.reserve(w.size());
  for (uint32_t x : w) s.push_back(x / total);
  return s;
}

TEST(Rendezvous, StableForSameKeyAndWeights) {
  std::vector<uint32_t> w{60, 30, 10};
  for (int k = 0; k < 1000; ++k) {
    uint64_t h = hash_key(cat("k", std::to_string(k)));
    int first = rendezvous_pick(h, w);
    for (int r = 0; r < 3; ++r) ASSERT_EQ(rendezvous_pick(h, w), first);
  }
}

TEST(Rendezvous, SharesFollowWeights) {
  std::vector<uint32_t> w{70, 20, 10, 0};
  auto a = assign(w, 10000);
  std::vector<int> count(w.size(), 0);
  for (int p : a) ++count[static_cast<size_t>(p)];
  auto s = shares(w);
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(count[i] / 10000.0, s[i], 0.02) << "pool " << i;
  EXPECT_EQ(count[3], 0);
}

TEST(Rendezvous, ZeroAndEmpty) {
  std::vector<uint32_t> zeros{0, 0}, one{0, 7, 0}, empty;
  EXPECT_EQ(rendezvous_pick(hash_key("x"), zeros), -1);
  EXPECT_EQ(rendezvous_pick(hash_key("x"), empty), -1);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(rendezvous_pick(hash_key(std::to_string(k)), one), 1);
}

// Moving from weights `a` to `b`, the fewest clients that must change pool is the total
// variation distance between the two share vectors. Rendezvous hashing should move about
// that many, and only to pools whose share grew from pools whose share shrank.
void check_minimal_movement(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  SCOPED_TRACE(::testing::PrintToString(a) + " -> " + ::testing::PrintToString(b));
  constexpr int kKeys = 10000;
  auto before = assign(a, kKeys);
  auto after = assign(b, kKeys);
  auto sa = shares(a), sb = shares(b);
  double minimum = 0;
  for (size_t i = 0; i < a.size(); ++i) minimum += std::max(0.0, sa[i] - sb[i]);
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    auto from = static_cast<size_t>(before[static_cast<size_t>(k)]);
    auto to = static_cast<size_t>(after[static_cast<size_t>(k)]);
    if (from == to) continue;
    ++moved;
    EXPECT_LT(sb[from], sa[from]) << "moved away from a pool that did not shrink";
    EXPECT_GT(sb[to], sa[to]) << "moved to a pool that did not grow";
  }
  double frac = moved / static_cast<double>(kKeys);
  ::testing::Test::RecordProperty("moved_vs_minimum",
                                  cat(std::to_string(frac), " vs ", std::to_string(minimum)));
  std::printf("[   info   ] %s -> %s: moved %.4f, minimum %.4f\n",
              ::testing::PrintToString(a).c_str(), ::testing::PrintToString(b).c_str(), frac,
              minimum);
  // 10k keys: the sampling noise of a fraction is well under 1 point.
  EXPECT_NEAR(frac, minimum, 0.015);
}

TEST(Rendezvous, MinimalMovementWhenAWeightChanges) {
  check_minimal_movement({90, 10}, {80, 20});
  check_minimal_movement({95, 5}, {100, 0});
  check_minimal_movement({50, 30, 20}, {50, 30, 0});
  check_minimal_movement({50, 30, 20}, {50, 60, 20});
  check_minimal_movement({25, 25, 25, 25}, {25, 25, 25, 75});
  check_minimal_movement({1, 99}, {50, 50});
}

TEST(Rendezvous, PoolIdsMakeChoiceIndependentOfOrder) {
  std::vector<uint64_t> ids{hash_key("blue"), hash_key("green"), hash_key("canary")};
  std::vector<uint32_t> w{50, 30, 20};
  std::vector<uint64_t> ids_rev{ids[2], ids[1], ids[0]};
  std::vector<uint32_t> w_rev{20, 30, 50};
  for (int k = 0; k < 2000; ++k) {
    uint64_t h = hash_key(std::to_string(k));
    int a = rendezvous_pick(h, w, ids);
    int b = rendezvous_pick(h, w_rev, ids_rev);
    ASSERT_EQ(a, 2 - b);
  }
}

}  // namespace
}  // namespace sluice::routing
