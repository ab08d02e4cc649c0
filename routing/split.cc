#include "routing/split.h"

#include <cmath>

namespace sluice::routing {
namespace {

constexpr uint64_t kP1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;

constexpr uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// MurmurHash3's 64-bit finaliser: full avalanche, so nearby inputs give unrelated outputs.
constexpr uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

// Little-endian load, written byte-wise so the hash is the same on every architecture
// (compilers turn this into one load on little-endian targets).
inline uint64_t load_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

constexpr uint64_t mix_round(uint64_t h, uint64_t k) {
  return rotl(h ^ (rotl(k * kP2, 31) * kP1), 27) * kP1 + kP3;
}

}  // namespace

uint64_t hash_key(std::string_view key) {
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  size_t n = key.size();
  uint64_t h = kP3 ^ (static_cast<uint64_t>(n) * kP1);
  for (; n >= 8; n -= 8, p += 8) h = mix_round(h, load_le(p, 8));
  if (n > 0) h = mix_round(h, load_le(p, n) ^ (static_cast<uint64_t>(n) << 56));
  return fmix64(h);
}

int rendezvous_pick(uint64_t key_hash, std::span<const uint32_t> weights,
                    std::span<const uint64_t> pool_ids) {
  int best = -1;
  double best_cost = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    uint64_t id = i < pool_ids.size() ? pool_ids[i] : i;
    uint64_t h = fmix64(key_hash ^ fmix64(id * kP1 + kP2));
    // u in (0,1): 53 random bits, centred so that neither 0 nor 1 can occur.
    double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
    // Highest w / -ln(u) == lowest -ln(u) / w; the division form avoids a second division.
    double cost = -std::log(u) / static_cast<double>(weights[i]);
    if (best < 0 || cost < best_cost) {
      best = static_cast<int>(i);
      best_cost = cost;
    }
  }
  return best;
}

int rendezvous_pick(uint64_t key_hash, std::span<const uint32_t> weights) {
  return rendezvous_pick(key_hash, weights, {});
}

WeightedPicker::WeightedPicker(std::span<const uint32_t> weights) {
  reset(weights);
}

void WeightedPicker::reset(std::span<const uint32_t> weights) {
  weights_.assign(weights.begin(), weights.end());
  credit_.assign(weights.size(), 0);
  total_ = 0;
  for (uint32_t w : weights_) total_ += w;
}

int WeightedPicker::pick() {
  if (total_ == 0) return -1;
  size_t best = weights_.size();
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (weights_[i] == 0) continue;
    credit_[i] += weights_[i];
    if (best == weights_.size() || credit_[i] > credit_[best]) best = i;
  }
  // Credits sum to 0 after every pick, which keeps them bounded.
  credit_[best] -= static_cast<int64_t>(total_);
  return static_cast<int>(best);
}

}  // namespace sluice::routing
