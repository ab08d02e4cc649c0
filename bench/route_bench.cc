// Question: how long does RouteTable::match() take per request, and does it stay flat as the
// table grows? Matching runs once per request on every worker, so it must be O(1) in the
// number of hosts (hash lookup) and small in the number of prefixes per host.
//
// Table shape for size N: N/4 hosts ("h<i>.example.com"), each with 4 routes ("/", "/api",
// "/api/v2", "/static/"), plus "*.example.com" and an any-host "/" route. Lookups cycle
// through a fixed set of requests: mixed-case hosts with ports, so normalisation is measured.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "routing/table.h"

namespace sluice::routing {
namespace {

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict, PR 105329) on "lit" + std::string.
std::string cat(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s(a);
  s.append(b).append(c);
  return s;
}

RouteTable build(int routes) {
  std::vector<RouteSpec> specs;
  int hosts = std::max(1, routes / 4);
  for (int h = 0; h < hosts; ++h) {
    std::string host = cat("h", std::to_string(h), ".example.com");
    for (const char* prefix : {"/", "/api", "/api/v2", "/static/"})
      specs.push_back({{host}, prefix});
  }
  specs.push_back({{"*.example.com"}, "/"});
  specs.push_back({{}, "/"});
  return RouteTable(std::move(specs));
}

struct Request {
  std::string host;
  std::string path;
};

std::vector<Request> requests(int routes) {
  std::vector<Request> out;
  int hosts = std::max(1, routes / 4);
  for (int i = 0; i < 256; ++i) {
    int h = (i * 7919) % hosts;
    out.push_back({cat("H", std::to_string(h), ".Example.com:443"),
                   i % 2 ? "/api/v2/users/42" : "/index.html"});
  }
  return out;
}

// Exact host hit, longest-prefix choice among the host's routes.
void BM_RouteMatchExact(benchmark::State& state) {
  RouteTable t = build(static_cast<int>(state.range(0)));
  auto reqs = requests(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    const Request& r = reqs[i++ & 255];
    benchmark::DoNotOptimize(t.match(r.host, r.path));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteMatchExact)->RangeMultiplier(10)->Range(10, 100000);

// Exact miss, wildcard hit on a three-label name: the exact probe plus two suffix probes.
void BM_RouteMatchWildcard(benchmark::State& state) {
  RouteTable t = build(static_cast<int>(state.range(0)));
  const std::string host = "a.b.Example.com";
  for (auto _ : state) benchmark::DoNotOptimize(t.match(host, "/x"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteMatchWildcard)->RangeMultiplier(10)->Range(10, 100000);

// Unknown host falls through to the any-host route (the path of a request for a bare IP).
void BM_RouteMatchAnyHost(benchmark::State& state) {
  RouteTable t = build(static_cast<int>(state.range(0)));
  const std::string host = "[2001:db8::1]:8443";
  for (auto _ : state) benchmark::DoNotOptimize(t.match(host, "/x"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteMatchAnyHost)->RangeMultiplier(10)->Range(10, 100000);

// Build cost: what a config reload pays for the table (not per request).
void BM_RouteTableBuild(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(build(static_cast<int>(state.range(0))));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_RouteTableBuild)
    ->RangeMultiplier(10)
    ->Range(10, 100000)
    ->Unit(benchmark::kMicrosecond)
    ->Complexity();

}  // namespace
}  // namespace sluice::routing
