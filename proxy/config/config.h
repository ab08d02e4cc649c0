// Validated, immutable configuration snapshot.
//
// The loader (config.cc) is the only place that knows toml++: it turns a TOML
// file into these plain structs, checks every key, type and range, resolves
// names into indices, and reports every problem as FILE:LINE:COL: key: message.
// A Config is built once and then shared read-only between threads through
// std::shared_ptr<const Config>; nothing mutates it after load.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

using Duration = std::chrono::milliseconds;

// A "host:port" / "[v6]:port" / "*:port" socket address as written in the file.
struct Endpoint {
  std::string host;  // "0.0.0.0", "::", "127.0.0.1", a host name (pools only)
  uint16_t port = 0;
  bool ipv6 = false;  // written in brackets
};

struct Global {
  unsigned workers = 0;  // 0 = one per CPU core (resolved by the runtime)
  std::string user;      // empty = do not drop privileges
  std::string state_dir = "/var/lib/sluice";
  Duration drain_timeout = std::chrono::seconds(30);
  std::string access_log = "-";  // "-" stdout, "off", or a path
};

struct Admin {
  std::string socket = "/run/sluice/admin.sock";
  std::vector<uint32_t> allow_uids{0};
  std::optional<Endpoint> metrics_listen;
};

struct Limits {
  uint32_t max_connections = 10000;
  Duration client_header_timeout = std::chrono::seconds(10);
  Duration client_body_timeout = std::chrono::seconds(30);
  // A write to the client that makes no progress this long closes the
  // connection (nginx's send_timeout). Not in SPEC: see docs/architecture.md.
  Duration client_send_timeout = std::chrono::seconds(60);
  Duration keepalive_timeout = std::chrono::seconds(75);  // 0 = no keep-alive
  uint32_t max_header_bytes = 16384;
  uint64_t max_body_bytes = 10ull * 1024 * 1024;
};

struct Listener {
  std::string listen;  // as written, for logs
  Endpoint addr;
  bool tls = false;
  bool redirect_https = false;
  uint16_t https_port = 443;
  std::string acme_webroot;  // empty = none
};

struct Certificate {
  std::string cert;  // PEM chain path
  std::string key;   // PEM key path
};

struct Tls {
  std::string min_version = "1.2";  // "1.2" | "1.3"
  std::string ciphers;              // empty = Mozilla intermediate
  std::string ciphersuites;         // empty = OpenSSL default TLS 1.3 suites
  std::vector<Certificate> certificates;
};

struct Header {
  std::string name;
  std::string value;
};

struct Headers {
  std::vector<Header> set;         // added to every response
  std::vector<std::string> strip;  // removed from upstream responses (lower-case)
};

struct HealthCheck {
  std::string path = "/health";
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(1);
  uint32_t unhealthy = 3;
  uint32_t healthy = 2;
};

struct Pool {
  std::string name;
  std::vector<Endpoint> servers;
  uint32_t keepalive = 32;
  Duration connect_timeout = std::chrono::seconds(2);
  Duration read_timeout = std::chrono::seconds(60);
  std::optional<HealthCheck> health_check;
};

struct SplitEntry {
  uint32_t pool = 0;  // index into Config::pools
  uint32_t weight = 0;
};

enum class Sticky { None, Cookie, Header, Ip };

struct Rollback {
  double error_rate = 0.05;
  uint32_t min_requests = 20;
  Duration window = std::chrono::seconds(30);
  std::optional<Duration> p99_latency;
};

struct Rollout {
  std::vector<uint32_t> steps;  // percent of traffic, ascending, each 0..100; default 1,5,25,50,100
  Duration interval = std::chrono::seconds(60);
};

struct Route {
  std::string name;
  std::vector<std::string> hosts;  // lower-case; "*.example.com" wildcards; empty = any
  std::string path_prefix = "/";
  std::vector<SplitEntry> split;  // in file order
  uint32_t baseline = 0;  // index into Config::pools; default: the pool with the most weight
  Sticky sticky = Sticky::None;
  std::string sticky_header;  // for Sticky::Header: the header name (lower-case)
  std::string force_header;   // empty = none (lower-case)
  Rollback rollback;
  std::optional<Rollout> rollout;
};

struct Config {
  std::string path;  // file it was loaded from
  Global global;
  Admin admin;
  Limits limits;
  std::vector<Listener> listeners;
  std::optional<Tls> tls;  // present when a [tls] table exists
  Headers headers;
  std::vector<Pool> pools;  // sorted by name
  std::vector<Route> routes;

  // Index of the pool called `name`, or -1.
  int pool_index(std::string_view name) const;
};

struct Diagnostic {
  std::string file;
  uint32_t line = 0;  // 1-based; 0 when the problem has no position
  uint32_t col = 0;
  std::string key;  // dotted key path, e.g. "pool.blue.servers[1]"
  std::string message;
  bool warning = false;

  // "FILE:LINE:COL: key: message" (warnings say "warning: " before the message).
  std::string str() const;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when there is any error
  std::vector<Diagnostic> errors;        // every problem found, in file order
  std::vector<Diagnostic> warnings;
};

// Parse and validate. `check_files` also opens referenced files (certificates,
// keys, acme_webroot) and fails when they are missing or unreadable.
// Relative paths in the file (state_dir, access_log, admin.socket, cert, key,
// acme_webroot) are resolved against the config file's directory and stored
// resolved. Reentrant: any thread may load; nothing is shared between loads.
LoadResult load_file(const std::string& path, bool check_files = true);
LoadResult load_string(std::string_view toml, const std::string& path, bool check_files = true);

// Parsers shared with the admin API: "250ms", "30s", "5m", "2h" and "10m", "512k", "1g", "123".
std::optional<Duration> parse_duration(std::string_view s);
std::optional<uint64_t> parse_size(std::string_view s);
// "127.0.0.1:80", "[::]:443", "host.name:3000". Returns nullopt when malformed.
std::optional<Endpoint> parse_endpoint(std::string_view s);

}  // namespace sluice::config
