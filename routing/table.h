// Route matching: Host header + request path → route index.
//
// A RouteTable is built once from the config snapshot and is immutable afterwards, so one
// instance may be shared by every worker thread; match() is const, re-entrant, allocation-free
// and never blocks.
//
// Matching rules:
//  1. The Host header is reduced to a host name: surrounding blanks, a ":port" suffix, the
//     brackets of "[v6]:port" and one trailing dot are dropped; comparison is ASCII
//     case-insensitive.
//  2. Host tiers, most specific first: an exact host ("example.com"), then wildcards
//     ("*.example.com" matches any name that ends in ".example.com", at any depth, but not
//     "example.com" itself; a longer wildcard suffix beats a shorter one), then routes with no
//     hosts (any host; a route host "*" means the same).
//  3. Within a tier, the route with the longest path_prefix that is a byte-wise prefix of the
//     path wins ("/api" matches "/api", "/api/x" and "/apix", like an nginx prefix location).
//     Equal prefixes: the route listed first wins.
//  4. If no route of a tier has a matching prefix, the next less specific tier is tried
//     (so a catch-all any-host route still serves paths an exact-host route does not cover).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::routing {

struct RouteSpec {
  std::vector<std::string> hosts;  // lower-case; "*.example.com" wildcards; empty = any host
  std::string path_prefix;         // "" behaves like "/": matches every path
};

class RouteTable {
 public:
  RouteTable() = default;  // matches nothing
  explicit RouteTable(std::vector<RouteSpec> routes);

  // Index of the matching route or -1. `host` is the raw Host header value (may have ":port",
  // may be "[v6]:port", any case, may be empty); `path` has no query string.
  int match(std::string_view host, std::string_view path) const;

  size_t size() const { return routes_.size(); }
  const RouteSpec& route(size_t i) const { return routes_[i]; }

  // The host name part of a Host header value (see rule 1); a view into `host_header`.
  static std::string_view host_name(std::string_view host_header);

 private:
  struct Entry {
    std::string key;               // normalised host (wildcards: the suffix after "*.")
    std::vector<uint32_t> routes;  // by path_prefix length, longest first, then file order
  };
  // Open-addressing hash index over lower-case keys, probed with a case-insensitive hash so
  // lookups never need a lowered copy of the request's host.
  struct HostIndex {
    std::vector<Entry> entries;
    std::vector<uint32_t> slots;  // entry index + 1; 0 = empty
    uint64_t mask = 0;

    void build(std::vector<Entry> all);              // keys must be distinct
    const Entry* find(std::string_view host) const;  // host in any case
  };

  int first_match(const std::vector<uint32_t>& candidates, std::string_view path) const;
  void sort_by_prefix(std::vector<uint32_t>& v) const;

  std::vector<RouteSpec> routes_;
  HostIndex exact_;
  HostIndex wildcard_;
  std::vector<uint32_t> any_host_;
};

}  // namespace sluice::routing
