// The pure parts of upstream host names: TTL clamping and retry backoff,
// address sets (canonical form, diffs), which servers need resolving, and
// how a snapshot expands a name into one server per address.
#include "proxy/dns.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "proxy/snapshot.h"

namespace sluice::dns {
namespace {

Address ip(const char* text) {
  Address a;
  EXPECT_TRUE(parse_ip(text, &a)) << text;
  return a;
}

std::vector<Address> set(std::initializer_list<const char*> texts) {
  std::vector<Address> out;
  for (const char* t : texts) out.push_back(ip(t));
  canonicalize(out);
  return out;
}

TEST(DnsTtl, ClampedToFloorAndCeiling) {
  EXPECT_EQ(refresh_after_ms(-1), kTtlFloorMs);  // no TTL (e.g. /etc/hosts)
  EXPECT_EQ(refresh_after_ms(0), kTtlFloorMs);   // "do not cache": still at most once a second
  EXPECT_EQ(refresh_after_ms(1), 1000u);
  EXPECT_EQ(refresh_after_ms(30), 30000u);
  EXPECT_EQ(refresh_after_ms(300), kTtlCeilingMs);
  EXPECT_EQ(refresh_after_ms(86400), kTtlCeilingMs);
  EXPECT_EQ(refresh_after_ms(INT64_MAX), kTtlCeilingMs);  // no overflow
}

TEST(DnsTtl, FailedRefreshBacksOffToACap) {
  EXPECT_EQ(retry_after_ms(1), kRetryFirstMs);
  EXPECT_EQ(retry_after_ms(2), 2 * kRetryFirstMs);
  EXPECT_EQ(retry_after_ms(3), 4 * kRetryFirstMs);
  EXPECT_EQ(retry_after_ms(6), kRetryMaxMs);
  EXPECT_EQ(retry_after_ms(1000000), kRetryMaxMs);
}

TEST(DnsAddresses, ParseAndPrint) {
  EXPECT_EQ(to_string(ip("127.0.0.2")), "127.0.0.2");
  EXPECT_EQ(to_string(ip("::1")), "::1");
  EXPECT_EQ(ip("::1").family, AF_INET6);
  Address a;
  EXPECT_FALSE(parse_ip("blue.internal", &a));
  EXPECT_FALSE(parse_ip("[::1]", &a));
  EXPECT_FALSE(parse_ip("", &a));
}

TEST(DnsAddresses, SockaddrRoundTrip) {
  for (const char* t : {"10.1.2.3", "2001:db8::7"}) {
    sockaddr_storage ss = to_sockaddr(ip(t), 3000);
    Address back;
    ASSERT_TRUE(from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), &back));
    EXPECT_EQ(back, ip(t));
    uint16_t port = ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port;
    EXPECT_EQ(ntohs(port), 3000);
  }
}

TEST(DnsAddresses, CanonicalSetsCompareByContent) {
  // Resolvers rotate answers: order and repeats must not look like a change.
  std::vector<Address> a = {ip("127.0.0.3"), ip("127.0.0.1"), ip("127.0.0.3")};
  std::vector<Address> b = {ip("127.0.0.1"), ip("127.0.0.3")};
  canonicalize(a);
  canonicalize(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(to_string(a), "127.0.0.1, 127.0.0.3");
  EXPECT_FALSE(diff(a, b).changed());
}

TEST(DnsAddresses, DiffNamesAddedAndRemoved) {
  Diff d = diff(set({"127.0.0.1", "127.0.0.2"}), set({"127.0.0.2", "127.0.0.3", "::1"}));
  EXPECT_TRUE(d.changed());
  EXPECT_EQ(to_string(d.added), "127.0.0.3, ::1");
  EXPECT_EQ(to_string(d.removed), "127.0.0.1");
  EXPECT_EQ(to_string(diff({}, set({"127.0.0.1"})).added), "127.0.0.1");
  EXPECT_EQ(to_string(diff(set({"127.0.0.1"}), {}).removed), "127.0.0.1");
}

std::shared_ptr<const config::Config> load(const std::string& servers) {
  std::string toml =
      "[[listener]]\nlisten = \"127.0.0.1:8080\"\n\n[pool.blue]\nservers = " + servers +
      "\n\n[pool.green]\nservers = [\"green.test:4000\", \"blue.test:4000\"]\n\n"
      "[[route]]\nname = \"app\"\nsplit = { blue = 50, green = 50 }\n";
  config::LoadResult r = config::load_string(toml, "/tmp/dns-test.toml", false);
  EXPECT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].str());
  return r.config;
}

TEST(DnsNames, OnlyHostNamesOnceInConfigOrder) {
  auto cfg = load(R"(["127.0.0.1:3000", "blue.test:3000", "[::1]:3000", "blue.test:3001"])");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(host_names(*cfg), (std::vector<std::string>{"blue.test", "green.test"}));
}

TEST(DnsSnapshot, EveryAddressOfANameIsOneServer) {
  auto cfg = load(R"(["127.0.0.1:3000", "blue.test:3000"])");
  ASSERT_TRUE(cfg);
  Answers answers;
  answers["blue.test"] = set({"127.0.0.3", "127.0.0.2"});
  answers["green.test"] = set({"::1"});
  std::string error;
  auto snap = build_snapshot(cfg, 1, TlsShared{}, answers, &error);
  ASSERT_TRUE(snap) << error;
  const PoolRuntime& blue = snap->pools[0];
  ASSERT_EQ(blue.servers.size(), 3u);
  EXPECT_EQ(blue.servers[0].text, "127.0.0.1:3000");
  EXPECT_EQ(blue.servers[1].text, "blue.test:3000 (127.0.0.2)");
  EXPECT_EQ(blue.servers[2].text, "blue.test:3000 (127.0.0.3)");
  // The Host header (health checks, HTTP/1.0 clients) names the host, not the address.
  EXPECT_EQ(blue.servers[2].host, "blue.test:3000");
  const auto* sa = reinterpret_cast<const sockaddr_in*>(&blue.servers[2].sa);
  EXPECT_EQ(ntohs(sa->sin_port), 3000);
  const PoolRuntime& green = snap->pools[1];
  ASSERT_EQ(green.servers.size(), 3u);
  EXPECT_EQ(green.servers[0].text, "green.test:4000 (::1)");
  EXPECT_EQ(green.servers[0].sa.ss_family, AF_INET6);
  EXPECT_EQ(green.servers[1].text, "blue.test:4000 (127.0.0.2)");
  EXPECT_EQ(snap->health->servers(0), 3u);
}

TEST(DnsSnapshot, AnUnresolvedNameIsAnError) {
  auto cfg = load(R"(["blue.test:3000"])");
  ASSERT_TRUE(cfg);
  Answers answers;
  answers["green.test"] = set({"127.0.0.1"});
  std::string error;
  EXPECT_FALSE(build_snapshot(cfg, 1, TlsShared{}, answers, &error));
  EXPECT_EQ(error, "pool.blue: server \"blue.test:3000\": host name not resolved");
}

}  // namespace
}  // namespace sluice::dns
