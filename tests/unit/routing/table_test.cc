#include "routing/table.h"

#include <gtest/gtest.h>

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

RouteTable make(std::vector<RouteSpec> specs) {
  return RouteTable(std::move(specs));
}

TEST(HostName, StripsPortBracketsDotAndBlanks) {
  EXPECT_EQ(RouteTable::host_name("example.com"), "example.com");
  EXPECT_EQ(RouteTable::host_name("Example.COM:8443"), "Example.COM");
  EXPECT_EQ(RouteTable::host_name("[::1]:443"), "::1");
  EXPECT_EQ(RouteTable::host_name("[2001:DB8::1]"), "2001:DB8::1");
  EXPECT_EQ(RouteTable::host_name("::1"), "::1");  // bare v6: several colons, kept whole
  EXPECT_EQ(RouteTable::host_name("example.com."), "example.com");
  EXPECT_EQ(RouteTable::host_name("example.com.:80"), "example.com");
  EXPECT_EQ(RouteTable::host_name("  example.com \t"), "example.com");
  EXPECT_EQ(RouteTable::host_name(""), "");
  EXPECT_EQ(RouteTable::host_name("[::1"), "[::1");  // malformed stays as is
}

TEST(RouteTable, ExactWildcardAnyPrecedence) {
  auto t = make({
      {{}, "/"},                   // 0: any host
      {{"*.example.com"}, "/"},    // 1: wildcard
      {{"www.example.com"}, "/"},  // 2: exact
      {{"*.b.example.com"}, "/"},  // 3: longer wildcard
  });
  EXPECT_EQ(t.match("www.example.com", "/x"), 2);
  EXPECT_EQ(t.match("api.example.com", "/x"), 1);
  EXPECT_EQ(t.match("a.b.example.com", "/x"), 3);  // longest wildcard suffix wins
  EXPECT_EQ(t.match("a.c.example.com", "/x"), 1);  // wildcard matches any depth
  EXPECT_EQ(t.match("example.com", "/x"), 0);      // "*.example.com" does not match the apex
  EXPECT_EQ(t.match("other.org", "/x"), 0);
  EXPECT_EQ(t.match("", "/x"), 0);
  EXPECT_EQ(t.match("xexample.com", "/x"), 0);  // suffix must start at a dot
}

TEST(RouteTable, CaseAndPortInHost) {
  auto t = make({{{"example.com"}, "/"}, {{"*.example.net"}, "/"}});
  EXPECT_EQ(t.match("EXAMPLE.com", "/"), 0);
  EXPECT_EQ(t.match("Example.Com:8080", "/"), 0);
  EXPECT_EQ(t.match("example.com.", "/"), 0);
  EXPECT_EQ(t.match("WWW.Example.NET:443", "/"), 1);
  EXPECT_EQ(t.match("example.org", "/"), -1);
}

TEST(RouteTable, Ipv6Host) {
  auto t = make({{{"[::1]"}, "/"}, {{"2001:db8::1"}, "/"}, {{"127.0.0.1"}, "/"}});
  EXPECT_EQ(t.match("[::1]:8080", "/"), 0);
  EXPECT_EQ(t.match("[::1]", "/"), 0);
  EXPECT_EQ(t.match("[2001:DB8::1]:443", "/"), 1);
  EXPECT_EQ(t.match("127.0.0.1:80", "/"), 2);
  EXPECT_EQ(t.match("[::2]:80", "/"), -1);
}

TEST(RouteTable, LongestPrefixWithinTier) {
  auto t = make({
      {{"example.com"}, "/"},
      {{"example.com"}, "/api"},
      {{"example.com"}, "/api/v2"},
      {{"example.com"}, "/static/"},
  });
  EXPECT_EQ(t.match("example.com", "/"), 0);
  EXPECT_EQ(t.match("example.com", "/index.html"), 0);
  EXPECT_EQ(t.match("example.com", "/api"), 1);
  EXPECT_EQ(t.match("example.com", "/api/v1/users"), 1);
  EXPECT_EQ(t.match("example.com", "/api/v2/users"), 2);
  EXPECT_EQ(t.match("example.com", "/apix"), 1);  // byte prefix, like an nginx prefix location
  EXPECT_EQ(t.match("example.com", "/static"), 0);
  EXPECT_EQ(t.match("example.com", "/static/app.js"), 3);
}

TEST(RouteTable, HostTierBeatsLongerPrefixInLessSpecificTier) {
  auto t = make({{{}, "/api/v1"}, {{"example.com"}, "/"}});
  EXPECT_EQ(t.match("example.com", "/api/v1/x"), 1);
  EXPECT_EQ(t.match("other.com", "/api/v1/x"), 0);
}

TEST(RouteTable, FallsThroughToLessSpecificTierWhenNoPrefixMatches) {
  auto t = make({{{"example.com"}, "/api"}, {{"*.com"}, "/admin"}, {{}, "/"}});
  EXPECT_EQ(t.match("example.com", "/api/x"), 0);
  EXPECT_EQ(t.match("example.com", "/admin"), 1);
  EXPECT_EQ(t.match("example.com", "/other"), 2);
}

TEST(RouteTable, NoMatch) {
  auto t = make({{{"example.com"}, "/api"}, {{"*.example.com"}, "/api"}});
  EXPECT_EQ(t.match("example.com", "/"), -1);
  EXPECT_EQ(t.match("a.example.com", "/ap"), -1);
  EXPECT_EQ(t.match("other.com", "/api"), -1);
  EXPECT_EQ(RouteTable().match("example.com", "/"), -1);
  EXPECT_EQ(make({}).match("", ""), -1);
}

TEST(RouteTable, EmptyPrefixMatchesEverything) {
  auto t = make({{{}, ""}});
  EXPECT_EQ(t.match("a", ""), 0);
  EXPECT_EQ(t.match("a", "/x"), 0);
}

TEST(RouteTable, EqualPrefixesFirstListedWins) {
  auto t = make({{{"example.com"}, "/"}, {{"example.com", "www.example.com"}, "/"}});
  EXPECT_EQ(t.match("example.com", "/"), 0);
  EXPECT_EQ(t.match("www.example.com", "/"), 1);
}

TEST(RouteTable, StarHostIsAnyHostAndRouteHostsAreCaseNormalised) {
  auto t = make({{{"*"}, "/"}, {{"API.Example.com"}, "/"}});
  EXPECT_EQ(t.match("whatever", "/"), 0);
  EXPECT_EQ(t.match("api.example.com", "/"), 1);
}

TEST(RouteTable, ManyHostsAllFound) {
  std::vector<RouteSpec> specs;
  specs.reserve(2001);
  for (int i = 0; i < 2000; ++i)
    specs.push_back({{cat("h", std::to_string(i), ".example.com")}, "/"});
  specs.push_back({{"*.example.com"}, "/"});
  auto t = make(std::move(specs));
  for (int i = 0; i < 2000; ++i)
    ASSERT_EQ(t.match(cat("H", std::to_string(i), ".example.com:80"), "/x"), i);
  EXPECT_EQ(t.match("h2000.example.com", "/"), 2000);
}

}  // namespace
}  // namespace sluice::routing
