// Question: what does choosing a pool cost per request, as a function of the number of pools
// in the split? WeightedPicker::pick() (smooth weighted round robin) is O(pools) and runs on
// every non-sticky request; rendezvous_pick() is O(pools) with a log() per pool and runs on
// every sticky request; hash_key() runs once per sticky request on the client key. Typical
// splits have 2-3 pools; 16 and 64 show how it scales.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "routing/split.h"

namespace sluice::routing {
namespace {

std::vector<uint32_t> weights(int64_t n) {
  std::vector<uint32_t> w;
  for (int64_t i = 0; i < n; ++i) w.push_back(static_cast<uint32_t>(1 + (i * 37) % 100));
  return w;
}

void BM_WeightedPick(benchmark::State& state) {
  auto w = weights(state.range(0));
  WeightedPicker p(w);
  for (auto _ : state) benchmark::DoNotOptimize(p.pick());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WeightedPick)->Arg(2)->Arg(3)->Arg(5)->Arg(16)->Arg(64);

void BM_RendezvousPick(benchmark::State& state) {
  auto w = weights(state.range(0));
  uint64_t key = hash_key("203.0.113.7");
  for (auto _ : state) {
    benchmark::DoNotOptimize(rendezvous_pick(key, w));
    ++key;  // a different client each time: no branch-predictor replay of one key
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RendezvousPick)->Arg(2)->Arg(3)->Arg(5)->Arg(16)->Arg(64);

// Key length: an IPv4 address (~12 B), a cookie value (~32 B), a long header (256 B).
void BM_HashKey(benchmark::State& state) {
  std::string key(static_cast<size_t>(state.range(0)), 'k');
  for (auto _ : state) {
    benchmark::DoNotOptimize(hash_key(key));
    key[0] = static_cast<char>(key[0] + 1);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_HashKey)->Arg(12)->Arg(32)->Arg(256);

}  // namespace
}  // namespace sluice::routing
