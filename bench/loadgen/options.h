// Command line of sluice-bench: the Options every worker reads (const once the
// run starts) and the parser that fills them. Pure: no sockets, no clock, no
// output; parse() reports problems as text for main() to print.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::bench {

struct Target {
  bool tls = false;
  std::string host;       // as written, without IPv6 brackets
  uint16_t port = 0;      // explicit or the scheme's default
  std::string path;       // origin-form request target, "/" at least
  std::string authority;  // Host header value: host[:port], port only when not the default
};

struct Options {
  Target target;
  std::string url;

  unsigned threads = 1;
  unsigned connections = 10;
  uint64_t duration_ns = 0;  // -d; 0 when -n is used
  uint64_t requests = 0;     // -n; 0 when -d is used
  double rate = 0;           // --rate: requests per second over all threads; 0 = closed loop
  bool new_connection = false;
  uint64_t timeout_ns = 10'000'000'000;

  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;  // -H, in order
  std::string body;
  bool has_body =
      false;  // --body / --body-file given (an empty body still sends Content-Length: 0)

  // TLS
  bool tls_resume = true;
  bool verify = false;  // --verify / --cacert: check the server's certificate
  std::string cacert;   // PEM file; empty = the system store
  std::string sni;      // empty: the URL's host when it is a name

  std::string pool_header = "X-Pool";
  bool json = false;
  bool progress = true;  // when stderr is a TTY; --no-progress turns it off

  bool closed_loop() const { return rate <= 0; }
};

struct ParseResult {
  enum class Kind { Run, Help, Version, Error } kind = Kind::Error;
  Options options;
  std::string error;  // Kind::Error: one line, without the program name
};

// argv[0] is skipped. Reads --body-file (the only file access).
ParseResult parse_args(int argc, const char* const* argv);

// "http://host:port/path?q" → Target; nullopt with *error set otherwise.
std::optional<Target> parse_url(std::string_view url, std::string* error);

// "10s", "250ms", "1.5m", "2h", "500us"; a bare number is seconds. nullopt on
// anything else, on a negative value, or on overflow.
std::optional<uint64_t> parse_duration_ns(std::string_view text);

// The bytes of the one request every connection sends: request line, Host
// (unless -H gives one), User-Agent, the -H headers, Content-Length for a body,
// Connection: close with --new-conn, then the body.
std::string build_request(const Options& options);

// The --help text.
const char* usage();

}  // namespace sluice::bench
