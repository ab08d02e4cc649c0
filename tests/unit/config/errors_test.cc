// Invalid configurations: every problem is reported, at the line and column of
// the offending key or value, sorted by position, as FILE:LINE:COL: key: message.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "tests/unit/config/test_util.h"

namespace sluice::config {
namespace {

using V = std::vector<std::string>;

V Errors(const std::string& text, bool check_files = false) {
  LoadResult r = load_string(text, "t.toml", check_files);
  EXPECT_EQ(r.config == nullptr, !r.errors.empty());
  return Strs(r.errors);
}

// `snippet` followed by the valid kMinimal: line numbers are the snippet's.
V ErrorsWith(const std::string& snippet) {
  return Errors(snippet + kMinimal);
}

constexpr const char* kTokenChars = "(letters, digits and !#$%&'*+-.^_`|~ only)";

TEST(Errors, TomlSyntax) {
  EXPECT_EQ(Errors("[global]\nworkers = \n"),
            V{"t.toml:2:11: TOML syntax error: Error while parsing key-value pair: expected value, "
              "saw '\\n'"});
  EXPECT_EQ(Errors("[pool.blue\nservers = []\n"),
            V{"t.toml:1:11: TOML syntax error: Error while parsing table header: expected ']', saw "
              "'\\n'"});
  EXPECT_EQ(Errors("[global]\nworkers = 4\nworkers = 5\n"),
            V{"t.toml:3:11: TOML syntax error: Error while parsing key-value pair: cannot redefine "
              "existing integer "
              "'workers'"});
}

TEST(Errors, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(
      Errors(R"(bogus = 1
[global]
wrkers = 4
[admin]
sockett = "/x"
[limits]
max_conections = 5
[[listener]]
listen = "127.0.0.1:80"
tlss = true
[tls]
min_versio = "1.2"
[[tls.certificate]]
cert = "/a"
key = "/b"
chain = "/c"
[pool.blue]
servers = ["127.0.0.1:1"]
weight = 3
health_check = { path = "/h", intervall = "5s" }
[[route]]
name = "app"
split = { blue = 1 }
stickyy = "ip"
[route.rollback]
errorrate = 0.1
[route.rollout]
step = [1]
)"),
      (V{
          "t.toml:1:1: bogus: unknown key; expected \"global\", \"admin\", \"limits\", "
          "\"listener\", \"tls\", "
          "\"headers\", \"pool\" or \"route\"",
          "t.toml:3:1: global.wrkers: unknown key; did you mean \"workers\"?",
          "t.toml:5:1: admin.sockett: unknown key; did you mean \"socket\"?",
          "t.toml:7:1: limits.max_conections: unknown key; did you mean \"max_connections\"?",
          "t.toml:10:1: listener[0].tlss: unknown key; did you mean \"tls\"?",
          "t.toml:12:1: tls.min_versio: unknown key; did you mean \"min_version\"?",
          "t.toml:16:1: tls.certificate[0].chain: unknown key; expected \"cert\" or \"key\"",
          "t.toml:19:1: pool.blue.weight: unknown key; expected \"servers\", \"keepalive\", "
          "\"connect_timeout\", "
          "\"read_timeout\" or \"health_check\"",
          "t.toml:20:31: pool.blue.health_check.intervall: unknown key; did you mean \"interval\"?",
          "t.toml:24:1: route[0].stickyy: unknown key; did you mean \"sticky\"?",
          "t.toml:26:1: route[0].rollback.errorrate: unknown key; did you mean \"error_rate\"?",
          // Unknown keys do not stop the other checks.
          "t.toml:27:1: route[0].rollout: nothing to roll out: split has no pool besides the "
          "baseline \"blue\"",
          "t.toml:28:1: route[0].rollout.step: unknown key; did you mean \"steps\"?",
      }));
}

TEST(Errors, WrongTypes) {
  EXPECT_EQ(ErrorsWith(R"([global]
workers = "4"
user = 5
[limits]
max_connections = 1.5
[admin]
allow_uids = 0
[[listener]]
listen = 8080
tls = "yes"
)"),
            (V{
                "t.toml:2:11: global.workers: expected an integer, got a string (\"4\")",
                "t.toml:3:8: global.user: expected a string, got an integer (5)",
                "t.toml:5:19: limits.max_connections: expected an integer, got a float (1.5)",
                "t.toml:7:14: admin.allow_uids: expected an array, got an integer (0)",
                "t.toml:9:10: listener[0].listen: expected a string such as \"127.0.0.1:8080\", "
                "got an integer (8080)",
                "t.toml:10:7: listener[0].tls: expected true or false, got a string (\"yes\")",
            }));
  EXPECT_EQ(ErrorsWith("[global]\nworkers = 4.0\n"),
            V{"t.toml:2:11: global.workers: expected an integer, got a float (4.0)"});
  EXPECT_EQ(ErrorsWith("global = 5\n"),
            V{"t.toml:1:10: global: expected a table, got an integer (5)"});
  EXPECT_EQ(ErrorsWith("[[global]]\nworkers = 1\n"),
            V{"t.toml:1:1: global: expected a table, got an array"});
}

TEST(Errors, SectionShapes) {
  EXPECT_EQ(Errors(R"([listener]
listen = "127.0.0.1:80"
[[pool]]
servers = ["127.0.0.1:1"]
[route]
name = "app"
)"),
            (V{
                "t.toml:1:1: listener: expected an array of tables ([[listener]]), got a table",
                "t.toml:3:1: pool: expected one table per pool ([pool.NAME], e.g. [pool.blue]), "
                "got an array",
                "t.toml:5:1: route: expected an array of tables ([[route]]), got a table",
            }));
  EXPECT_EQ(Errors("listener = []\npool = {}\nroute = []\n"),
            (V{
                "t.toml:1:12: listener: is empty; define at least one [[listener]]",
                "t.toml:2:8: pool: is empty; define at least one [pool.NAME]",
                "t.toml:3:9: route: is empty; define at least one [[route]]",
            }));
  EXPECT_EQ(
      ErrorsWith("[pool.green]\n[pool.red]\nservers = [\"127.0.0.1:1\"]\n[pool.x]\nservers = 1\n"
                 "[pool.y]\npool.z = 1\n"),
      (V{
          "t.toml:1:1: pool.green.servers: required key is missing",
          "t.toml:5:11: pool.x.servers: expected an array, got an integer (1)",
          "t.toml:6:1: pool.y.servers: required key is missing",
          "t.toml:7:1: pool.y.pool: unknown key; expected \"servers\", \"keepalive\", "
          "\"connect_timeout\", "
          "\"read_timeout\" or \"health_check\"",
      }));
}

TEST(Errors, MissingSections) {
  EXPECT_EQ(Errors(""),
            (V{
                "t.toml: listener: no [[listener]] defined; at least one address to listen on is "
                "required",
                "t.toml: pool: no [pool.NAME] defined; at least one upstream pool is required",
                "t.toml: route: no [[route]] defined; at least one route is required",
            }));
  EXPECT_EQ(Errors("[[listener]]\nlisten = \"127.0.0.1:80\"\n[[route]]\nname = \"r\"\nsplit = { "
                   "blue = 1 }\n"),
            (V{
                "t.toml:5:11: route[0].split.blue: unknown pool \"blue\" (defined pools: none)",
                "t.toml: pool: no [pool.NAME] defined; at least one upstream pool is required",
            }));
}

TEST(Errors, OutOfRange) {
  EXPECT_EQ(
      ErrorsWith(R"([global]
workers = 1025
[limits]
max_connections = 0
max_header_bytes = 1023
max_body_bytes = 0
client_header_timeout = "0s"
[admin]
allow_uids = [0, -1, 4294967295]
[pool.green]
servers = ["127.0.0.1:3001"]
keepalive = 70000
health_check = { unhealthy = 0, healthy = 1001 }
[[route]]
name = "r2"
path_prefix = "/r2"
split = { blue = -1, green = 1.5 }
[route.rollback]
error_rate = 1.5
min_requests = 0
window = "0ms"
p99_latency = "0s"
)"),
      (V{
          "t.toml:2:11: global.workers: must be between 0 and 1024, got 1025",
          "t.toml:4:19: limits.max_connections: must be at least 1, got 0",
          "t.toml:5:20: limits.max_header_bytes: must be between 1024 and 1048576 bytes, got 1023",
          "t.toml:6:18: limits.max_body_bytes: must be at least 1 byte, got 0",
          "t.toml:7:25: limits.client_header_timeout: must be greater than 0",
          "t.toml:9:18: admin.allow_uids[1]: must be between 0 and 4294967294, got -1",
          "t.toml:9:22: admin.allow_uids[2]: must be between 0 and 4294967294, got 4294967295",
          "t.toml:12:13: pool.green.keepalive: must be between 0 and 65535, got 70000",
          "t.toml:13:30: pool.green.health_check.unhealthy: must be between 1 and 1000, got 0",
          "t.toml:13:43: pool.green.health_check.healthy: must be between 1 and 1000, got 1001",
          "t.toml:17:18: route[0].split.blue: must be between 0 and 1000000, got -1",
          "t.toml:17:30: route[0].split.green: expected an integer, got a float (1.5)",
          "t.toml:19:14: route[0].rollback.error_rate: must be between 0 and 1 (a fraction: 0.05 "
          "means 5%), got "
          "1.5",
          "t.toml:20:16: route[0].rollback.min_requests: must be at least 1, got 0",
          "t.toml:21:10: route[0].rollback.window: must be greater than 0",
          "t.toml:22:15: route[0].rollback.p99_latency: must be greater than 0",
      }));
  EXPECT_EQ(ErrorsWith("[[route]]\nname = \"r\"\npath_prefix = \"/r\"\nsplit = { blue = 1 }\n"
                       "rollback = { error_rate = -0.01 }\n"),
            V{"t.toml:5:27: route[0].rollback.error_rate: must be between 0 and 1 (a fraction: "
              "0.05 means 5%), got "
              "-0.01"});
  EXPECT_EQ(ErrorsWith("[[route]]\nname = \"r\"\npath_prefix = \"/r\"\nsplit = { blue = 1 }\n"
                       "rollback = { error_rate = \"5%\" }\n"),
            V{"t.toml:5:27: route[0].rollback.error_rate: expected a number between 0 and 1, got a "
              "string (\"5%\")"});
}

TEST(Errors, Ports) {
  EXPECT_EQ(ErrorsWith(R"([[listener]]
listen = "127.0.0.1:0"
[[listener]]
listen = "[::1]:65536"
https_port = 0
[[listener]]
listen = "127.0.0.1:81"
redirect_https = true
https_port = 65536
[admin]
metrics_listen = "127.0.0.1:99999"
)"),
            (V{
                "t.toml:2:10: listener[0].listen: \"127.0.0.1:0\" is not a valid host:port (port "
                "must be 1-65535)",
                "t.toml:4:10: listener[1].listen: \"[::1]:65536\" is not a valid host:port (port "
                "must be 1-65535)",
                "t.toml:5:14: listener[1].https_port: must be between 1 and 65535, got 0",
                "t.toml:9:14: listener[2].https_port: must be between 1 and 65535, got 65536",
                "t.toml:11:18: admin.metrics_listen: \"127.0.0.1:99999\" is not a valid host:port "
                "(port must be "
                "1-65535)",
            }));
}

TEST(Errors, DurationsAndSizes) {
  EXPECT_EQ(ErrorsWith(R"([global]
drain_timeout = "30"
[limits]
client_header_timeout = 10
client_body_timeout = "1.5s"
keepalive_timeout = "75sec"
max_body_bytes = "10mb"
max_header_bytes = -5
[pool.blue2]
servers = ["127.0.0.1:1"]
connect_timeout = "-1s"
read_timeout = ""
health_check = { interval = "5 s", timeout = true }
)"),
            (V{
                "t.toml:2:17: global.drain_timeout: \"30\" has no unit; durations need one of ms, "
                "s, m or h (e.g. "
                "\"30s\")",
                "t.toml:4:25: limits.client_header_timeout: a unit is required: write \"10s\" or "
                "\"10ms\" (units: ms, "
                "s, m, h), not 10",
                "t.toml:5:23: limits.client_body_timeout: \"1.5s\" is not a whole number; use a "
                "smaller unit instead, "
                "e.g. \"1500ms\"",
                "t.toml:6:21: limits.keepalive_timeout: \"75sec\" has an unknown unit \"sec\"; use "
                "ms, s, m or h",
                "t.toml:7:18: limits.max_body_bytes: \"10mb\" is not a size; write a whole number "
                "of bytes with an "
                "optional k, m or g suffix, e.g. \"512k\" or \"10m\"",
                "t.toml:8:20: limits.max_header_bytes: must not be negative, got -5",
                "t.toml:11:19: pool.blue2.connect_timeout: \"-1s\" is negative; durations must be "
                "0 or more",
                "t.toml:12:16: pool.blue2.read_timeout: empty duration; write a whole number with "
                "a unit (ms, s, m or "
                "h), e.g. \"250ms\" or \"30s\"",
                "t.toml:13:29: pool.blue2.health_check.interval: \"5 s\" has an unknown unit \" "
                "s\"; use ms, s, m or h",
                "t.toml:13:46: pool.blue2.health_check.timeout: expected a duration such as "
                "\"30s\", got a boolean "
                "(true)",
            }));
  // Zero is fine where it means "now" / "never".
  EXPECT_EQ(ErrorsWith("[global]\ndrain_timeout = \"0s\"\n[limits]\nkeepalive_timeout = \"0ms\"\n"),
            V{});
}

TEST(Errors, Endpoints) {
  EXPECT_EQ(ErrorsWith(R"([[listener]]
listen = "localhost:80"
[[listener]]
listen = "::1:80"
[admin]
metrics_listen = "127.0.0.1"
[pool.x]
servers = ["127.0.0.1:3000", "x:99999", "[::1]:3000", "bad host:1"]
[[listener]]
listen = "999.1.1.1:80"
)"),
            (V{
                "t.toml:2:10: listener[0].listen: \"localhost:80\" is not a valid listen address: "
                "the host must be an "
                "IP address such as 0.0.0.0, 127.0.0.1, [::] or [::1], not a host name",
                "t.toml:4:10: listener[1].listen: \"::1:80\" is not a valid host:port (an IPv6 "
                "address must be written "
                "in brackets, e.g. \"[::1]:8080\")",
                "t.toml:6:18: admin.metrics_listen: \"127.0.0.1\" is not a valid host:port "
                "(missing \":PORT\")",
                "t.toml:8:30: pool.x.servers[1]: \"x:99999\" is not a valid host:port (port must "
                "be 1-65535)",
                "t.toml:8:55: pool.x.servers[3]: \"bad host:1\" is not a valid host:port (\"bad "
                "host\" is not a valid "
                "host name)",
                "t.toml:10:10: listener[2].listen: \"999.1.1.1:80\" is not a valid host:port "
                "(\"999.1.1.1\" is not an "
                "IPv4 address)",
            }));
}

TEST(Errors, RoutesAndPools) {
  EXPECT_EQ(
      Errors(R"([[listener]]
listen = "127.0.0.1:8080"
[pool.blue]
servers = ["127.0.0.1:3000"]
[pool.canary]
servers = ["127.0.0.1:3001"]
[[route]]
name = "a"
split = { blue = 90, green = 10 }
baseline = "canary"
[[route]]
name = "b"
path_prefix = "/b"
split = { blue = 0, canary = 0 }
baseline = "purple"
[[route]]
name = "c"
path_prefix = "/c"
split = {}
[[route]]
name = "a"
path_prefix = "/d"
split = { blue = 1 }
[[route]]
name = "e"
path_prefix = "/e"
[[route]]
path_prefix = "/f"
split = "blue"
)"),
      (V{
          "t.toml:9:22: route[0].split.green: unknown pool \"green\" (defined pools: \"blue\" and "
          "\"canary\")",
          "t.toml:10:12: route[0].baseline: pool \"canary\" is not in this route's split; add it "
          "there (weight 0 "
          "is fine)",
          "t.toml:14:9: route[1].split: every weight is 0; at least one pool needs a weight > 0",
          "t.toml:15:12: route[1].baseline: unknown pool \"purple\" (defined pools: \"blue\" and "
          "\"canary\")",
          "t.toml:19:9: route[2].split: is empty; give at least one pool a weight, e.g. { blue = "
          "100 }",
          "t.toml:21:8: route[3].name: duplicate route name \"a\" (already used by route[0] at "
          "line 8)",
          "t.toml:24:1: route[4].split: required key is missing",
          "t.toml:27:1: route[5].name: required key is missing",
          "t.toml:29:9: route[5].split: expected a table of pool weights such as { blue = 95, "
          "canary = 5 }, got "
          "a string (\"blue\")",
      }));
}

TEST(Errors, ListenersAndTls) {
  const std::string tail =
      "[pool.blue]\nservers = [\"127.0.0.1:3000\"]\n[[route]]\nname = \"a\"\nsplit = { blue = 1 "
      "}\n";
  EXPECT_EQ(
      Errors(R"([[listener]]
listen = "0.0.0.0:443"
tls = true
redirect_https = true
[[listener]]
listen = "[::]:80"
[[listener]]
listen = "[::0]:80"
[[listener]]
listen = "0.0.0.0:443"
[[listener]]
listen = "127.0.0.1:443"
)" + tail),
      (V{
          "t.toml:3:7: listener[0].tls: tls = true needs a [tls] table with at least one "
          "[[tls.certificate]]",
          "t.toml:4:18: listener[0].redirect_https: a listener cannot both serve TLS and redirect "
          "to HTTPS; use "
          "one listener for each",
          "t.toml:8:10: listener[2].listen: \"[::0]:80\" is already used by listener[1] at line 6",
          "t.toml:10:10: listener[3].listen: \"0.0.0.0:443\" is already used by listener[0] at "
          "line 2",
      }));
  EXPECT_EQ(Errors(R"([[listener]]
listen = "0.0.0.0:443"
tls = true
[tls]
min_version = "1.1"
ciphers = ""
)" + tail),
            (V{
                "t.toml:3:7: listener[0].tls: tls = true, but [tls] has no [[tls.certificate]]",
                "t.toml:5:15: tls.min_version: must be \"1.2\" or \"1.3\", got \"1.1\"",
                "t.toml:6:11: tls.ciphers: must not be empty",
            }));
  EXPECT_EQ(Errors(R"([[listener]]
listen = "0.0.0.0:443"
tls = true
[[tls.certificate]]
cert = "/a.pem"
[[tls.certificate]]
key = "/a.key"
[tls.certificate]
)" + tail),
            V{"t.toml:8:1: TOML syntax error: Error while parsing table header: cannot redefine "
              "existing array "
              "'tls.certificate' as table"});
  EXPECT_EQ(Errors(R"([[listener]]
listen = "0.0.0.0:443"
tls = true
[[tls.certificate]]
cert = "/a.pem"
[[tls.certificate]]
key = "/a.key"
)" + tail),
            (V{
                "t.toml:4:1: tls.certificate[0].key: required key is missing",
                "t.toml:6:1: tls.certificate[1].cert: required key is missing",
            }));
  EXPECT_EQ(
      Errors("[tls]\ncertificate = { cert = \"/a\", key = \"/b\" }\n" + std::string(kMinimal)),
      V{"t.toml:2:15: tls.certificate: expected an array of tables ([[tls.certificate]]), got a "
        "table"});
}

TEST(Errors, Sticky) {
  EXPECT_EQ(
      ErrorsWith(R"([[route]]
name = "a"
path_prefix = "/a"
split = { blue = 1 }
sticky = "cookies"
[[route]]
name = "b"
path_prefix = "/b"
split = { blue = 1 }
sticky = "header:"
[[route]]
name = "c"
path_prefix = "/c"
split = { blue = 1 }
sticky = "header:X User"
force_header = "X:Pool"
)"),
      (V{
          "t.toml:5:10: route[0].sticky: must be \"none\", \"cookie\", \"ip\" or \"header:NAME\", "
          "got "
          "\"cookies\"",
          "t.toml:10:10: route[1].sticky: \"header:\" needs a header name, e.g. "
          "\"header:X-User-Id\"",
          std::string("t.toml:15:10: route[2].sticky: \"X User\" is not a valid header name ") +
              kTokenChars,
          std::string(
              "t.toml:16:16: route[2].force_header: \"X:Pool\" is not a valid header name ") +
              kTokenChars,
      }));
}

TEST(Errors, Rollout) {
  EXPECT_EQ(ErrorsWith(R"([pool.canary]
servers = ["127.0.0.1:3001"]
[pool.green]
servers = ["127.0.0.1:3002"]
[[route]]
name = "a"
path_prefix = "/a"
split = { blue = 1, canary = 1, green = 0 }
[route.rollout]
steps = [0, 50, 50, 101]
[[route]]
name = "b"
path_prefix = "/b"
split = { blue = 1 }
rollout = { steps = [], interval = "0s" }
[[route]]
name = "c"
path_prefix = "/c"
split = { blue = 9, canary = 1 }
rollout = { steps = 5 }
)"),
            (V{
                "t.toml:9:1: route[0].rollout: a rollout moves traffic to one pool, but split has "
                "2 besides the "
                "baseline \"blue\": \"canary\" and \"green\"",
                "t.toml:10:17: route[0].rollout.steps[2]: steps must be in ascending order, but 50 "
                "comes after 50",
                "t.toml:10:21: route[0].rollout.steps[3]: must be between 0 and 100, got 101",
                "t.toml:15:11: route[1].rollout: nothing to roll out: split has no pool besides "
                "the baseline \"blue\"",
                "t.toml:15:21: route[1].rollout.steps: must list at least one step, e.g. [1, 5, "
                "25, 50, 100]",
                "t.toml:15:36: route[1].rollout.interval: must be greater than 0",
                "t.toml:20:21: route[2].rollout.steps: expected an array of percentages such as "
                "[1, 5, 25, 50, 100], "
                "got an integer (5)",
            }));
}

TEST(Errors, Headers) {
  EXPECT_EQ(
      ErrorsWith(R"([headers]
"X Bad" = "v"
"X-Inject" = "a\r\nSet-Cookie: x=1"
"X-Nul" = "a\u0000b"
"Content-Length" = "0"
"x-frame-options" = "DENY"
"X-Frame-Options" = "DENY"
strip = ["Server", "Bad Header", 5]
"X-Number" = 5
)"),
      (V{
          std::string("t.toml:2:1: headers.\"X Bad\": \"X Bad\" is not a valid header name ") +
              kTokenChars,
          "t.toml:3:14: headers.X-Inject: header value \"a\\r\\nSet-Cookie: x=1\" must not contain "
          "CR, LF, NUL "
          "or other control characters",
          "t.toml:4:11: headers.X-Nul: header value \"a\\x00b\" must not contain CR, LF, NUL or "
          "other control "
          "characters",
          "t.toml:5:1: headers.Content-Length: sluice manages \"Content-Length\" itself; it cannot "
          "be set in "
          "[headers]",
          "t.toml:7:1: headers.X-Frame-Options: \"X-Frame-Options\" is already set at line 6 as "
          "\"x-frame-options\" (header names are case-insensitive)",
          std::string("t.toml:8:20: headers.strip[1]: \"Bad Header\" is not a valid header name ") +
              kTokenChars,
          "t.toml:8:34: headers.strip[2]: expected a string, got an integer (5)",
          "t.toml:9:14: headers.X-Number: expected a string, got an integer (5)",
      }));
}

TEST(Errors, NamesPathsAndHosts) {
  EXPECT_EQ(
      ErrorsWith(R"([pool."bad name"]
servers = ["127.0.0.1:1"]
[pool.ok]
servers = []
health_check = { path = "health" }
[[route]]
name = "bad/name"
path_prefix = "api"
split = { blue = 1 }
hosts = ["Example.COM:80", "a.*.com", "*", "[::1]", "[nope]", "-x.com"]
)"),
      (V{
          "t.toml:1:7: pool.\"bad name\": pool \"bad name\" is not a valid name; use 1-64 letters, "
          "digits, \"-\" "
          "or \"_\"",
          "t.toml:4:11: pool.ok.servers: must list at least one server",
          "t.toml:5:25: pool.ok.health_check.path: must start with \"/\" (got \"health\")",
          "t.toml:7:8: route[0].name: \"bad/name\" is not a valid name; use 1-64 letters, digits, "
          "\"-\" or \"_\"",
          "t.toml:8:15: route[0].path_prefix: must start with \"/\" (got \"api\")",
          "t.toml:10:10: route[0].hosts[0]: \"Example.COM:80\" must not contain a port (hosts "
          "match the Host "
          "header without its port)",
          "t.toml:10:28: route[0].hosts[1]: \"a.*.com\": a wildcard is only allowed as the whole "
          "first label, "
          "e.g. \"*.example.com\"",
          "t.toml:10:39: route[0].hosts[2]: \"*\" is not needed: leave out hosts to match any host",
          "t.toml:10:53: route[0].hosts[4]: \"[nope]\" is not a valid bracketed IPv6 address",
          "t.toml:10:63: route[0].hosts[5]: \"-x.com\" is not a valid host name",
      }));
  EXPECT_EQ(ErrorsWith("[[route]]\nname = \"r\"\npath_prefix = \"/a b\"\nsplit = { blue = 1 }\n"),
            V{"t.toml:3:15: route[0].path_prefix: \"/a b\" must not contain spaces, control "
              "characters, \"?\" or "
              "\"#\""});
}

TEST(Errors, ShadowedRoutes) {
  EXPECT_EQ(ErrorsWith(R"([[route]]
name = "a"
hosts = ["example.com", "*.example.com"]
split = { blue = 1 }
[[route]]
name = "b"
hosts = ["EXAMPLE.com"]
split = { blue = 1 }
[[route]]
name = "c"
path_prefix = "/"
split = { blue = 1 }
)"),
            (V{
                "t.toml:7:9: route[1].hosts: matches the same host \"example.com\" and path_prefix "
                "\"/\" as route[0] "
                "(\"a\"), so it could never be chosen",
                "t.toml:19:1: route[3].path_prefix: matches the same hosts (any) and path_prefix "
                "\"/\" as route[2] "
                "(\"c\"), so it could never be chosen",
            }));
}

class CheckFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-config-files-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/cert.pem") << "pem";
    std::ofstream(dir_ + "/file.txt") << "x";
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string dir_;
};

TEST_F(CheckFiles, MissingOrWrongKind) {
  const std::string d = dir_;
  const std::string text = R"([[listener]]
listen = "0.0.0.0:80"
redirect_https = true
acme_webroot = ")" + d + R"(/file.txt"
[[listener]]
listen = "0.0.0.0:443"
tls = true
acme_webroot = ")" + d + R"(/nope"
[[tls.certificate]]
cert = ")" + d + R"(/cert.pem"
key = ")" + d + R"(/missing.key"
[[tls.certificate]]
cert = ")" + d + R"("
key = ")" + d + R"(/cert.pem"
[pool.blue]
servers = ["127.0.0.1:3000"]
[[route]]
name = "a"
split = { blue = 1 }
)";
  EXPECT_EQ(Errors(text, /*check_files=*/true),
            (V{
                "t.toml:4:16: listener[0].acme_webroot: \"" + d + "/file.txt\" is not a directory",
                "t.toml:8:16: listener[1].acme_webroot: cannot access \"" + d +
                    "/nope\": No such file or directory",
                "t.toml:11:7: tls.certificate[0].key: cannot access \"" + d +
                    "/missing.key\": No such file or directory",
                "t.toml:13:8: tls.certificate[1].cert: \"" + d + "\" is a directory, not a file",
            }));
  EXPECT_EQ(Errors(text, /*check_files=*/false), V{});
}

TEST_F(CheckFiles, Unreadable) {
  if (geteuid() == 0) GTEST_SKIP() << "root can read anything";
  chmod((dir_ + "/cert.pem").c_str(), 0);
  EXPECT_EQ(Errors("[[tls.certificate]]\ncert = \"" + dir_ + "/cert.pem\"\nkey = \"" + dir_ +
                       "/file.txt\"\n" + kMinimal,
                   true),
            V{"t.toml:2:8: tls.certificate[0].cert: cannot read \"" + dir_ +
              "/cert.pem\": Permission denied"});
}

TEST_F(CheckFiles, RelativeToTheConfigFile) {
  std::ofstream(dir_ + "/sluice.toml")
      << "[[tls.certificate]]\ncert = \"cert.pem\"\nkey = \"missing.key\"\n"
      << kMinimal;
  LoadResult r = load_file(dir_ + "/sluice.toml");
  EXPECT_EQ(Strs(r.errors), V{dir_ + "/sluice.toml:3:7: tls.certificate[0].key: cannot access \"" +
                              dir_ + "/missing.key\": No such file or directory"});
}

TEST(Errors, ManyProblemsAllReportedInFileOrder) {
  // toml++ keeps keys sorted by name; diagnostics must still come in file order.
  EXPECT_EQ(Errors(R"([global]
workers = -1
access_log = ""
drain_timeout = 5

[[listener]]
listen = "localhost:80"

[pool.zz]
servers = ["x:0"]

[pool.aa]
servers = ["y:0"]

[[route]]
split = { zz = 0, aa = 0, nope = 1 }
)"),
            (V{
                "t.toml:2:11: global.workers: must be between 0 and 1024, got -1",
                "t.toml:3:14: global.access_log: must not be empty",
                "t.toml:4:17: global.drain_timeout: a unit is required: write \"5s\" or \"5ms\" "
                "(units: ms, s, m, h), "
                "not 5",
                "t.toml:7:10: listener[0].listen: \"localhost:80\" is not a valid listen address: "
                "the host must be an "
                "IP address such as 0.0.0.0, 127.0.0.1, [::] or [::1], not a host name",
                "t.toml:10:12: pool.zz.servers[0]: \"x:0\" is not a valid host:port (port must be "
                "1-65535)",
                "t.toml:13:12: pool.aa.servers[0]: \"y:0\" is not a valid host:port (port must be "
                "1-65535)",
                "t.toml:15:1: route[0].name: required key is missing",
                "t.toml:16:27: route[0].split.nope: unknown pool \"nope\" (defined pools: \"aa\" "
                "and \"zz\")",
            }));
}

TEST(Errors, GoldenExample) {
  // examples/many_errors.expected is also what `sluice --check` prints for it.
  const std::string dir = CONFIG_EXAMPLES_DIR;
  LoadResult r = load_file(dir + "/many_errors.toml");
  EXPECT_FALSE(r.config);
  std::ifstream in(dir + "/many_errors.expected");
  V expected;
  for (std::string line; std::getline(in, line);) expected.push_back(line);
  V got;
  for (Diagnostic d : r.errors) {
    d.file = "many_errors.toml";
    got.push_back(d.str());
  }
  EXPECT_EQ(got, expected);
}

TEST(Warnings, NotErrors) {
  LoadResult r = load_string(R"([pool.unused]
servers = ["127.0.0.1:1", "127.0.0.1:1"]
health_check = { interval = "1s", timeout = "1s" }
[[listener]]
listen = "127.0.0.1:9000"
https_port = 8443
[tls]
[[tls.certificate]]
cert = "/a"
key = "/b"
[[route]]
name = "h"
hosts = ["ok.com", "OK.com"]
split = { blue = 1 }
)" + std::string(kMinimal),
                             "t.toml", false);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(Strs(r.warnings),
            (V{
                "t.toml:1:1: pool.unused: warning: pool \"unused\" is not used by any route",
                "t.toml:2:27: pool.unused.servers[1]: warning: same server as "
                "pool.unused.servers[0]; it will get "
                "twice the traffic",
                "t.toml:3:45: pool.unused.health_check.timeout: warning: timeout (1s) is not "
                "shorter than interval "
                "(1s); checks will overlap",
                "t.toml:6:14: listener[0].https_port: warning: has no effect without "
                "redirect_https = true",
                "t.toml:7:1: tls: warning: [tls] is configured but no listener has tls = true",
                "t.toml:13:9: route[0].hosts: warning: \"ok.com\" is listed twice",
            }));
}

}  // namespace
}  // namespace sluice::config
