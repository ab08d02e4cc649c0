// parse_duration / parse_size / parse_endpoint (shared with the admin API),
// Diagnostic::str() and Config::pool_index.
#include <gtest/gtest.h>

#include "proxy/config/config.h"

namespace sluice::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("0ms"), milliseconds(0));
  EXPECT_EQ(parse_duration("007s"), milliseconds(7'000));
}

TEST(ParseDuration, RequiresAUnit) {
  EXPECT_EQ(parse_duration("30"), std::nullopt);
  EXPECT_EQ(parse_duration("0"), std::nullopt);
}

TEST(ParseDuration, RefusesMalformed) {
  for (const char* s : {"", "s", "ms", "-5s", "+5s", "1.5s", "5 s", " 5s", "5s ", "5sec", "5S",
                        "5M", "5d", "5us", "5ms5", "5s5ms", "0x10s", "abc"})
    EXPECT_EQ(parse_duration(s), std::nullopt) << s;
}

TEST(ParseDuration, RefusesOverflow) {
  EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds(INT64_MAX));
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807s"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999999h"), std::nullopt);
}

TEST(ParseSize, AcceptsSuffixesInEitherCase) {
  EXPECT_EQ(parse_size("123"), 123u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512k"), 512u * 1024);
  EXPECT_EQ(parse_size("512K"), 512u * 1024);
  EXPECT_EQ(parse_size("10m"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("10M"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("1g"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("4G"), 4ull * 1024 * 1024 * 1024);
}

TEST(ParseSize, RefusesMalformed) {
  for (const char* s :
       {"", "k", "10mb", "10kb", "10 m", " 10", "-1", "+1", "1.5m", "10t", "10b", "0x10", "m10"})
    EXPECT_EQ(parse_size(s), std::nullopt) << s;
}

TEST(ParseSize, RefusesOverflow) {
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("17179869184g"), std::nullopt);  // 2^34 GiB = 2^64 bytes
  EXPECT_EQ(parse_size("17179869183g"), 17179869183ull << 30);
}

TEST(ParseEndpoint, Ipv4) {
  auto e = parse_endpoint("127.0.0.1:8080");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8080);
  EXPECT_FALSE(e->ipv6);
  e = parse_endpoint("0.0.0.0:80");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "0.0.0.0");
  EXPECT_EQ(e->port, 80);
}

TEST(ParseEndpoint, Ipv6InBrackets) {
  auto e = parse_endpoint("[::]:443");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::");
  EXPECT_EQ(e->port, 443);
  EXPECT_TRUE(e->ipv6);
  e = parse_endpoint("[::1]:8443");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 8443);
  e = parse_endpoint("[2001:DB8::1]:65535");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "2001:db8::1");
  EXPECT_EQ(e->port, 65535);
  e = parse_endpoint("[::ffff:10.0.0.1]:1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::ffff:10.0.0.1");
}

TEST(ParseEndpoint, HostNamesAndWildcard) {
  auto e = parse_endpoint("Blue.Internal:3000");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "blue.internal");
  EXPECT_EQ(e->port, 3000);
  EXPECT_FALSE(e->ipv6);
  e = parse_endpoint("my_service:80");  // Docker service names
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "my_service");
  e = parse_endpoint("localhost:1");
  ASSERT_TRUE(e);
  e = parse_endpoint("*:8080");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "0.0.0.0");
  EXPECT_EQ(e->port, 8080);
}

TEST(ParseEndpoint, RefusesMalformed) {
  for (const char* s : {"",
                        ":80",
                        "127.0.0.1",
                        "127.0.0.1:",
                        "127.0.0.1:0",
                        "127.0.0.1:65536",
                        "x:99999",
                        "127.0.0.1:80a",
                        "127.0.0.1:-1",
                        "127.0.0.1: 80",
                        "::1:80",
                        "[::1]",
                        "[::1]80",
                        "[::1:80",
                        "[zz::1]:80",
                        "[127.0.0.1]:80",
                        "999.0.0.1:80",
                        "1.2.3:80",
                        "-bad.host:80",
                        "bad-.host:80",
                        "a..b:80",
                        "a b:80",
                        "host/x:80",
                        "[]:80"})
    EXPECT_EQ(parse_endpoint(s), std::nullopt) << s;
}

TEST(Diagnostic, Formats) {
  Diagnostic d{"conf/x.toml", 12, 11, "pool.blue.servers[1]", "bad", false};
  EXPECT_EQ(d.str(), "conf/x.toml:12:11: pool.blue.servers[1]: bad");
  d.warning = true;
  EXPECT_EQ(d.str(), "conf/x.toml:12:11: pool.blue.servers[1]: warning: bad");
  Diagnostic nopos{"x.toml", 0, 0, "listener", "none", false};
  EXPECT_EQ(nopos.str(), "x.toml: listener: none");
  Diagnostic nokey{"x.toml", 3, 1, "", "syntax", false};
  EXPECT_EQ(nokey.str(), "x.toml:3:1: syntax");
}

TEST(Config, PoolIndex) {
  Config c;
  for (const char* n : {"blue", "canary", "green"}) c.pools.push_back(Pool{n, {}, 32, {}, {}, {}});
  EXPECT_EQ(c.pool_index("blue"), 0);
  EXPECT_EQ(c.pool_index("canary"), 1);
  EXPECT_EQ(c.pool_index("green"), 2);
  EXPECT_EQ(c.pool_index("Blue"), -1);
  EXPECT_EQ(c.pool_index("aaa"), -1);
  EXPECT_EQ(c.pool_index("zzz"), -1);
  EXPECT_EQ(c.pool_index(""), -1);
  EXPECT_EQ(Config{}.pool_index("blue"), -1);
}

}  // namespace
}  // namespace sluice::config
