// Valid configurations: every key lands in the right field, defaults match
// SPEC.md, relative paths resolve against the config file's directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "proxy/config/config.h"
#include "tests/unit/config/test_util.h"

namespace sluice::config {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// A scratch directory with the files a full config references.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-config-test-XXXXXX";
    const char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    path_ = d ? d : "/tmp";
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& rel, const std::string& text) const {
    std::string full = path_ + "/" + rel;
    std::ofstream(full) << text;
    return full;
  }
  std::string mkdir(const std::string& rel) const {
    std::string full = path_ + "/" + rel;
    ::mkdir(full.c_str(), 0755);
    return full;
  }

 private:
  std::string path_;
};

// A real self-signed certificate and key: with check_files the loader has
// the TLS layer verify that they parse and match.
void make_cert(const std::string& cert, const std::string& key) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
      "-keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(Load, FullConfigRoundTrips) {
  TempDir dir;
  dir.mkdir("certs");
  dir.mkdir("acme");
  make_cert(dir.path() + "/certs/a.pem", dir.path() + "/certs/a.key");
  const std::string abs_cert = dir.path() + "/b.pem";
  const std::string abs_key = dir.path() + "/b.key";
  make_cert(abs_cert, abs_key);
  const std::string file = dir.write("sluice.toml", R"toml([global]
workers = 4
user = "sluice"
state_dir = "state"
drain_timeout = "45s"
access_log = "logs/access.log"

[admin]
socket = "/run/sluice/admin.sock"
allow_uids = [0, 1000]
metrics_listen = "127.0.0.1:9901"

[limits]
max_connections = 5000
client_header_timeout = "5s"
client_body_timeout = "20s"
client_send_timeout = "45s"
keepalive_timeout = "2m"
max_header_bytes = "32k"
max_body_bytes = "1g"

[[listener]]
listen = "0.0.0.0:80"
redirect_https = true
https_port = 8443
acme_webroot = "acme"

[[listener]]
listen = "[::]:443"
tls = true

[[listener]]
listen = "127.0.0.1:8080"
tls = false
redirect_https = false

[tls]
min_version = "1.3"
ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
ciphersuites = "TLS_AES_128_GCM_SHA256"
[[tls.certificate]]
cert = "certs/a.pem"
key = "certs/a.key"
[[tls.certificate]]
cert = ")toml" + abs_cert + R"toml("
key = ")toml" + abs_key + R"toml("

[headers]
"X-Frame-Options" = "SAMEORIGIN"
"Permissions-Policy" = "geolocation=()"
strip = ["Server", "X-Powered-By", "X-AspNet-Version"]

[pool.blue]
servers = ["127.0.0.1:3000", "Blue.Internal:3000", "[::1]:3002"]
keepalive = 16
connect_timeout = "500ms"
read_timeout = "1h"
health_check = { path = "/healthz", interval = "10s", timeout = "2s", unhealthy = 5, healthy = 3 }

[pool.canary]
servers = ["127.0.0.1:3001"]
keepalive = 0

[[route]]
name = "app"
hosts = ["Example.com", "*.example.com"]
path_prefix = "/"
split = { blue = 95, canary = 5 }
baseline = "blue"
sticky = "header:X-User-Id"
force_header = "X-Sluice-Pool"

[route.rollback]
error_rate = 0.1
min_requests = 50
window = "1m"
p99_latency = "800ms"

[route.rollout]
steps = [1, 5, 25, 50, 100]
interval = "90s"

[[route]]
name = "api"
path_prefix = "/api/"
split = { canary = 0, blue = 1 }
sticky = "cookie"
rollback = { error_rate = 1 }
)toml");
  LoadResult r = load_file(file, /*check_files=*/true);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << Joined(r.warnings);
  const Config& c = *r.config;
  const std::string& d = dir.path();
  EXPECT_EQ(c.path, file);

  EXPECT_EQ(c.global.workers, 4u);
  EXPECT_EQ(c.global.user, "sluice");
  EXPECT_EQ(c.global.state_dir, d + "/state");
  EXPECT_EQ(c.global.drain_timeout, 45s);
  EXPECT_EQ(c.global.access_log, d + "/logs/access.log");

  EXPECT_EQ(c.admin.socket, "/run/sluice/admin.sock");
  EXPECT_EQ(c.admin.allow_uids, (std::vector<uint32_t>{0, 1000}));
  ASSERT_TRUE(c.admin.metrics_listen);
  EXPECT_EQ(c.admin.metrics_listen->host, "127.0.0.1");
  EXPECT_EQ(c.admin.metrics_listen->port, 9901);

  EXPECT_EQ(c.limits.max_connections, 5000u);
  EXPECT_EQ(c.limits.client_header_timeout, 5s);
  EXPECT_EQ(c.limits.client_body_timeout, 20s);
  EXPECT_EQ(c.limits.client_send_timeout, 45s);
  EXPECT_EQ(c.limits.keepalive_timeout, 2min);
  EXPECT_EQ(c.limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(c.limits.max_body_bytes, 1ull << 30);

  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].listen, "0.0.0.0:80");
  EXPECT_EQ(c.listeners[0].addr.host, "0.0.0.0");
  EXPECT_EQ(c.listeners[0].addr.port, 80);
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_TRUE(c.listeners[0].redirect_https);
  EXPECT_EQ(c.listeners[0].https_port, 8443);
  EXPECT_EQ(c.listeners[0].acme_webroot, d + "/acme");
  EXPECT_EQ(c.listeners[1].listen, "[::]:443");
  EXPECT_EQ(c.listeners[1].addr.host, "::");
  EXPECT_TRUE(c.listeners[1].addr.ipv6);
  EXPECT_EQ(c.listeners[1].addr.port, 443);
  EXPECT_TRUE(c.listeners[1].tls);
  EXPECT_FALSE(c.listeners[1].redirect_https);
  EXPECT_EQ(c.listeners[1].https_port, 443);
  EXPECT_EQ(c.listeners[1].acme_webroot, "");
  EXPECT_FALSE(c.listeners[2].tls);
  EXPECT_FALSE(c.listeners[2].redirect_https);

  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->min_version, "1.3");
  EXPECT_EQ(c.tls->ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(c.tls->ciphersuites, "TLS_AES_128_GCM_SHA256");
  ASSERT_EQ(c.tls->certificates.size(), 2u);
  EXPECT_EQ(c.tls->certificates[0].cert, d + "/certs/a.pem");
  EXPECT_EQ(c.tls->certificates[0].key, d + "/certs/a.key");
  EXPECT_EQ(c.tls->certificates[1].cert, abs_cert);
  EXPECT_EQ(c.tls->certificates[1].key, abs_key);

  ASSERT_EQ(c.headers.set.size(), 2u);                  // a [headers] table replaces the defaults
  EXPECT_EQ(c.headers.set[0].name, "X-Frame-Options");  // file order, case kept
  EXPECT_EQ(c.headers.set[0].value, "SAMEORIGIN");
  EXPECT_EQ(c.headers.set[1].name, "Permissions-Policy");
  EXPECT_EQ(c.headers.set[1].value, "geolocation=()");
  EXPECT_EQ(c.headers.strip,
            (std::vector<std::string>{"server", "x-powered-by", "x-aspnet-version"}));

  ASSERT_EQ(c.pools.size(), 2u);
  const Pool& blue = c.pools[0];
  EXPECT_EQ(blue.name, "blue");
  ASSERT_EQ(blue.servers.size(), 3u);
  EXPECT_EQ(blue.servers[0].host, "127.0.0.1");
  EXPECT_EQ(blue.servers[0].port, 3000);
  EXPECT_EQ(blue.servers[1].host, "blue.internal");
  EXPECT_FALSE(blue.servers[1].ipv6);
  EXPECT_EQ(blue.servers[2].host, "::1");
  EXPECT_TRUE(blue.servers[2].ipv6);
  EXPECT_EQ(blue.servers[2].port, 3002);
  EXPECT_EQ(blue.keepalive, 16u);
  EXPECT_EQ(blue.connect_timeout, 500ms);
  EXPECT_EQ(blue.read_timeout, 1h);
  ASSERT_TRUE(blue.health_check);
  EXPECT_EQ(blue.health_check->path, "/healthz");
  EXPECT_EQ(blue.health_check->interval, 10s);
  EXPECT_EQ(blue.health_check->timeout, 2s);
  EXPECT_EQ(blue.health_check->unhealthy, 5u);
  EXPECT_EQ(blue.health_check->healthy, 3u);
  const Pool& canary = c.pools[1];
  EXPECT_EQ(canary.name, "canary");
  EXPECT_EQ(canary.keepalive, 0u);
  EXPECT_FALSE(canary.health_check);

  ASSERT_EQ(c.routes.size(), 2u);
  const Route& app = c.routes[0];
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.hosts, (std::vector<std::string>{"example.com", "*.example.com"}));
  EXPECT_EQ(app.path_prefix, "/");
  ASSERT_EQ(app.split.size(), 2u);
  EXPECT_EQ(app.split[0].pool, 0u);
  EXPECT_EQ(app.split[0].weight, 95u);
  EXPECT_EQ(app.split[1].pool, 1u);
  EXPECT_EQ(app.split[1].weight, 5u);
  EXPECT_EQ(app.baseline, 0u);
  EXPECT_EQ(app.sticky, Sticky::Header);
  EXPECT_EQ(app.sticky_header, "x-user-id");
  EXPECT_EQ(app.force_header, "x-sluice-pool");
  EXPECT_DOUBLE_EQ(app.rollback.error_rate, 0.1);
  EXPECT_EQ(app.rollback.min_requests, 50u);
  EXPECT_EQ(app.rollback.window, 1min);
  EXPECT_EQ(app.rollback.p99_latency, 800ms);
  ASSERT_TRUE(app.rollout);
  EXPECT_EQ(app.rollout->steps, (std::vector<uint32_t>{1, 5, 25, 50, 100}));
  EXPECT_EQ(app.rollout->interval, 90s);

  const Route& api = c.routes[1];
  EXPECT_EQ(api.path_prefix, "/api/");
  EXPECT_TRUE(api.hosts.empty());
  ASSERT_EQ(api.split.size(), 2u);  // file order, not name order
  EXPECT_EQ(api.split[0].pool, 1u);
  EXPECT_EQ(api.split[0].weight, 0u);
  EXPECT_EQ(api.split[1].pool, 0u);
  EXPECT_EQ(api.split[1].weight, 1u);
  EXPECT_EQ(api.baseline, 0u);  // default: the pool with the most weight
  EXPECT_EQ(api.sticky, Sticky::Cookie);
  EXPECT_DOUBLE_EQ(api.rollback.error_rate, 1.0);
  EXPECT_EQ(api.rollback.min_requests, 20u);
  EXPECT_FALSE(api.rollout);
}

TEST(Load, SpecExampleIsValid) {
  // The "Configuration (TOML)" example of SPEC.md, verbatim.
  LoadResult r = load_string(R"([global]
workers = 0                   # event-loop threads; 0 = one per CPU core
user = "sluice"               # optional: drop root after binding ports
state_dir = "/var/lib/sluice" # runtime weight changes and rollbacks survive restarts here
drain_timeout = "30s"
access_log = "-"              # "-" = stdout, a path, or "off"

[admin]
socket = "/run/sluice/admin.sock"   # HTTP/1.1 + JSON over a Unix socket, mode 0600
allow_uids = [0]                    # peers checked with SO_PEERCRED; sluice's own uid always allowed
metrics_listen = "127.0.0.1:9901"   # optional TCP: GET /metrics and /health/* only, read-only

[limits]
max_connections = 10000
client_header_timeout = "10s"  # slowloris: 408 and close
client_body_timeout = "30s"
keepalive_timeout = "75s"
max_header_bytes = 16384       # request line + headers; over it: 431
max_body_bytes = "10m"         # over it: 413 (Content-Length known) or reset (chunked)

[[listener]]
listen = "0.0.0.0:80"
redirect_https = true          # 301 to https://HOST[:https_port]/path?query
https_port = 443

[[listener]]
listen = "0.0.0.0:443"         # also "[::]:443"
tls = true                     # a listener with neither tls nor redirect_https proxies plain HTTP

[tls]
min_version = "1.2"            # "1.2" or "1.3"
# ciphers / ciphersuites: optional; default is Mozilla "intermediate"
[[tls.certificate]]            # several: chosen by SNI against each cert's SANs
cert = "/etc/sluice/fullchain.pem"
key  = "/etc/sluice/privkey.pem"

[headers]                      # set on every response, errors and redirects included
"Strict-Transport-Security" = "max-age=63072000; includeSubDomains"
"X-Frame-Options" = "DENY"
"X-Content-Type-Options" = "nosniff"
"Referrer-Policy" = "strict-origin-when-cross-origin"
"Content-Security-Policy" = "default-src 'self'"
strip = ["Server", "X-Powered-By"]   # removed from upstream responses

[pool.blue]
servers = ["127.0.0.1:3000", "blue.internal:3000"]  # names resolved with c-ares, re-resolved by TTL
keepalive = 32                 # idle upstream connections kept per worker
connect_timeout = "2s"
read_timeout = "60s"
health_check = { path = "/health", interval = "5s", timeout = "1s", unhealthy = 3, healthy = 2 }

[pool.canary]
servers = ["127.0.0.1:3001"]

[[route]]
name = "app"
hosts = ["example.com", "*.example.com"]   # optional; default any host
path_prefix = "/"                           # longest matching prefix wins
split = { blue = 95, canary = 5 }          # integer weights >= 0, sum > 0
baseline = "blue"                           # receives the weight of a rolled-back pool
sticky = "cookie"          # "none" | "cookie" | "header:NAME" | "ip": same client, same pool
force_header = "X-Sluice-Pool"   # optional: a request naming a pool in this header goes there

[route.rollback]
error_rate = 0.05              # (5xx from upstream + connect failures + timeouts) / requests
min_requests = 20              # below this many requests in the window: no verdict ("inconclusive")
window = "30s"                 # sliding window
p99_latency = "800ms"          # optional: also roll back when the pool's p99 over the window exceeds it

[route.rollout]                # optional progressive delivery of the non-baseline pool
steps = [1, 5, 25, 50, 100]    # percent of traffic
interval = "60s"               # advance one step per healthy interval
)",
                             "spec.toml", /*check_files=*/false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << Joined(r.warnings);
  EXPECT_EQ(r.config->headers.set.size(), 5u);
  EXPECT_EQ(r.config->routes[0].sticky, Sticky::Cookie);
}

TEST(Load, Defaults) {
  LoadResult r = load_string(kMinimal, "t.toml", /*check_files=*/true);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << Joined(r.warnings);
  const Config& c = *r.config;
  EXPECT_EQ(c.global.workers, 0u);
  EXPECT_EQ(c.global.user, "");
  EXPECT_EQ(c.global.state_dir, "/var/lib/sluice");
  EXPECT_EQ(c.global.drain_timeout, 30s);
  EXPECT_EQ(c.global.access_log, "-");
  EXPECT_EQ(c.admin.socket, "/run/sluice/admin.sock");
  EXPECT_EQ(c.admin.allow_uids, (std::vector<uint32_t>{0}));
  EXPECT_FALSE(c.admin.metrics_listen);
  EXPECT_EQ(c.limits.max_connections, 10000u);
  EXPECT_EQ(c.limits.client_header_timeout, 10s);
  EXPECT_EQ(c.limits.client_body_timeout, 30s);
  EXPECT_EQ(c.limits.client_send_timeout, 60s);
  EXPECT_EQ(c.limits.keepalive_timeout, 75s);
  EXPECT_EQ(c.limits.max_header_bytes, 16384u);
  EXPECT_EQ(c.limits.max_body_bytes, 10u * 1024 * 1024);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_FALSE(c.listeners[0].redirect_https);
  EXPECT_EQ(c.listeners[0].https_port, 443);
  EXPECT_FALSE(c.tls);
  ASSERT_EQ(c.headers.set.size(), 5u);
  EXPECT_EQ(c.headers.set[0].name, "Strict-Transport-Security");
  EXPECT_EQ(c.headers.set[0].value, "max-age=63072000; includeSubDomains");
  EXPECT_EQ(c.headers.set[1].name, "X-Frame-Options");
  EXPECT_EQ(c.headers.set[1].value, "DENY");
  EXPECT_EQ(c.headers.set[2].name, "X-Content-Type-Options");
  EXPECT_EQ(c.headers.set[2].value, "nosniff");
  EXPECT_EQ(c.headers.set[3].name, "Referrer-Policy");
  EXPECT_EQ(c.headers.set[3].value, "strict-origin-when-cross-origin");
  EXPECT_EQ(c.headers.set[4].name, "Content-Security-Policy");
  EXPECT_EQ(c.headers.set[4].value, "default-src 'self'");
  EXPECT_EQ(c.headers.strip, (std::vector<std::string>{"server", "x-powered-by"}));
  ASSERT_EQ(c.pools.size(), 1u);
  EXPECT_EQ(c.pools[0].keepalive, 32u);
  EXPECT_EQ(c.pools[0].connect_timeout, 2s);
  EXPECT_EQ(c.pools[0].read_timeout, 60s);
  EXPECT_FALSE(c.pools[0].health_check);
  ASSERT_EQ(c.routes.size(), 1u);
  const Route& rt = c.routes[0];
  EXPECT_TRUE(rt.hosts.empty());
  EXPECT_EQ(rt.path_prefix, "/");
  EXPECT_EQ(rt.baseline, 0u);
  EXPECT_EQ(rt.sticky, Sticky::None);
  EXPECT_EQ(rt.force_header, "");
  EXPECT_DOUBLE_EQ(rt.rollback.error_rate, 0.05);
  EXPECT_EQ(rt.rollback.min_requests, 20u);
  EXPECT_EQ(rt.rollback.window, 30s);
  EXPECT_FALSE(rt.rollback.p99_latency);
  EXPECT_FALSE(rt.rollout);
}

TEST(Load, NestedTableDefaults) {
  LoadResult r = load_string(std::string(R"([pool.green]
servers = ["127.0.0.1:3005"]
health_check = {}

[[route]]
name = "g"
path_prefix = "/g"
split = { green = 1, blue = 1 }
sticky = "ip"
[route.rollout]
)") + kMinimal,
                             "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  const Config& c = *r.config;
  const Pool& green = c.pools[static_cast<size_t>(c.pool_index("green"))];
  ASSERT_TRUE(green.health_check);
  EXPECT_EQ(green.health_check->path, "/health");
  EXPECT_EQ(green.health_check->interval, 5s);
  EXPECT_EQ(green.health_check->timeout, 1s);
  EXPECT_EQ(green.health_check->unhealthy, 3u);
  EXPECT_EQ(green.health_check->healthy, 2u);
  const Route& g = c.routes[0];
  EXPECT_EQ(g.sticky, Sticky::Ip);
  EXPECT_EQ(g.baseline, static_cast<uint32_t>(c.pool_index("green")));  // tie: first in file order
  ASSERT_TRUE(g.rollout);
  EXPECT_EQ(g.rollout->steps, (std::vector<uint32_t>{1, 5, 25, 50, 100}));
  EXPECT_EQ(g.rollout->interval, 60s);
}

TEST(Load, PoolsSortedByNameAndIndexed) {
  LoadResult r = load_string(R"([[listener]]
listen = "127.0.0.1:8080"
[pool.zeta]
servers = ["127.0.0.1:1"]
[pool.alpha]
servers = ["127.0.0.1:2"]
[pool.mid]
servers = ["127.0.0.1:3"]
[[route]]
name = "r"
split = { zeta = 3, mid = 2, alpha = 1 }
baseline = "mid"
)",
                             "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  const Config& c = *r.config;
  ASSERT_EQ(c.pools.size(), 3u);
  EXPECT_EQ(c.pools[0].name, "alpha");
  EXPECT_EQ(c.pools[1].name, "mid");
  EXPECT_EQ(c.pools[2].name, "zeta");
  EXPECT_EQ(c.pools[0].servers[0].port, 2);
  const Route& rt = c.routes[0];
  ASSERT_EQ(rt.split.size(), 3u);
  EXPECT_EQ(rt.split[0].pool, 2u);
  EXPECT_EQ(rt.split[0].weight, 3u);
  EXPECT_EQ(rt.split[1].pool, 1u);
  EXPECT_EQ(rt.split[2].pool, 0u);
  EXPECT_EQ(rt.baseline, 1u);
}

TEST(Load, HeadersTableReplacesDefaults) {
  LoadResult r = load_string(std::string("[headers]\n\"X-Frame-Options\" = \"DENY\"\n") + kMinimal,
                             "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  ASSERT_EQ(r.config->headers.set.size(), 1u);
  EXPECT_EQ(r.config->headers.set[0].name, "X-Frame-Options");
  EXPECT_EQ(r.config->headers.strip, (std::vector<std::string>{"server", "x-powered-by"}));

  r = load_string(std::string("[headers]\nstrip = []\n") + kMinimal, "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_TRUE(r.config->headers.set.empty());
  EXPECT_TRUE(r.config->headers.strip.empty());

  r = load_string(std::string("headers = {}\n") + kMinimal, "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_TRUE(r.config->headers.set.empty());
  EXPECT_EQ(r.config->headers.strip, (std::vector<std::string>{"server", "x-powered-by"}));

  r = load_string(
      std::string("[headers]\nstrip = [\"Server\", \"server\", \"SERVER\"]\n\"X-Empty\" = \"\"\n"
                  "\"X-Tab\" = \"a\\tb\"\n") +
          kMinimal,
      "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->headers.strip, (std::vector<std::string>{"server"}));
  ASSERT_EQ(r.config->headers.set.size(), 2u);
  EXPECT_EQ(r.config->headers.set[1].value, "a\tb");
}

TEST(Load, ListenAddressForms) {
  LoadResult r = load_string(R"([[listener]]
listen = "0.0.0.0:80"
[[listener]]
listen = "127.0.0.1:8080"
[[listener]]
listen = "[::]:443"
[[listener]]
listen = "[::1]:8443"
[[listener]]
listen = "*:81"
[pool.blue]
servers = ["127.0.0.1:3000"]
[[route]]
name = "app"
split = { blue = 1 }
)",
                             "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  const auto& l = r.config->listeners;
  ASSERT_EQ(l.size(), 5u);
  EXPECT_EQ(l[2].addr.host, "::");
  EXPECT_TRUE(l[2].addr.ipv6);
  EXPECT_EQ(l[3].addr.host, "::1");
  EXPECT_EQ(l[3].addr.port, 8443);
  EXPECT_EQ(l[4].listen, "*:81");
  EXPECT_EQ(l[4].addr.host, "0.0.0.0");
}

TEST(Load, CheckFilesOffSkipsTheDisk) {
  LoadResult r = load_string(std::string(R"([[listener]]
listen = "0.0.0.0:8443"
tls = true
acme_webroot = "/nonexistent/acme"
[[tls.certificate]]
cert = "/nonexistent/a.pem"
key = "/nonexistent/a.key"
)") + kMinimal,
                             "t.toml", /*check_files=*/false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->tls->certificates[0].cert, "/nonexistent/a.pem");
}

TEST(Load, RelativePathsFollowTheConfigFile) {
  LoadResult r = load_string(std::string("[global]\nstate_dir = \"state\"\naccess_log = \"-\"\n"
                                         "[admin]\nsocket = \"run/admin.sock\"\n") +
                                 kMinimal,
                             "/etc/sluice/sluice.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->global.state_dir, "/etc/sluice/state");
  EXPECT_EQ(r.config->global.access_log, "-");
  EXPECT_EQ(r.config->admin.socket, "/etc/sluice/run/admin.sock");

  r = load_string(std::string("[global]\nstate_dir = \"state\"\naccess_log = \"off\"\n") + kMinimal,
                  "sluice.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->global.state_dir,
            "state");  // relative to the working directory, like the file
  EXPECT_EQ(r.config->global.access_log, "off");
}

TEST(Load, MissingFile) {
  LoadResult r = load_file("/nonexistent/sluice.toml");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(Strs(r.errors),
            (std::vector<std::string>{
                "/nonexistent/sluice.toml: cannot read config file: No such file or directory"}));
}

TEST(Load, DirectoryInsteadOfFile) {
  LoadResult r = load_file("/tmp");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(Strs(r.errors),
            (std::vector<std::string>{"/tmp: cannot read config file: it is a directory"}));
}

TEST(Load, ConfigIsNullOnAnyError) {
  LoadResult r = load_string(std::string("[global]\nworkers = -1\n") + kMinimal, "t.toml", false);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST(Load, CertificateKeyMismatchIsAnErrorAtTheEntry) {
  TempDir dir;
  make_cert(dir.path() + "/a.pem", dir.path() + "/a.key");
  make_cert(dir.path() + "/b.pem", dir.path() + "/b.key");
  const std::string file = dir.write("sluice.toml", R"toml([[listener]]
listen = "127.0.0.1:8443"
tls = true

[tls]
[[tls.certificate]]
cert = "a.pem"
key = "b.key"

[pool.blue]
servers = ["127.0.0.1:3000"]

[[route]]
name = "app"
split = { blue = 1 }
)toml");
  LoadResult r = load_file(file, /*check_files=*/true);
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 7u);
  EXPECT_EQ(r.errors[0].col, 8u);
  EXPECT_EQ(r.errors[0].key, "tls.certificate[0].cert");
  EXPECT_NE(r.errors[0].message.find("does not match"), std::string::npos) << r.errors[0].str();
}

}  // namespace
}  // namespace sluice::config
