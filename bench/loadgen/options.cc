#include "bench/loadgen/options.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include "sluice_version.h"

namespace sluice::bench {

const char* usage() {
  return R"(usage: sluice-bench [options] URL

Load generator for HTTP/1.1 servers. URL is http://HOST[:PORT][/PATH] or https://...

Load:
  -t, --threads N        event-loop threads (default 1; at most -c)
  -c, --connections N    connections in total, spread over the threads (default 10)
  -d, --duration TIME    run for TIME: 10s, 500ms, 2m (default 10s)
  -n, --requests N       send exactly N requests instead of running for a time
  -r, --rate R           open loop: R requests/s in total on a fixed timetable, latency
                         measured from each request's scheduled time (no coordinated
                         omission). Without --rate: closed loop, as fast as the server
                         answers, each connection sending its next request on a response.
      --new-conn         a new connection per request (Connection: close); default keep-alive
      --timeout TIME     per request, connect and TLS handshake included (default 10s)

Request:
  -m, --method METHOD    default GET
  -H, --header 'N: V'    add a request header (repeatable; a Host header replaces the URL's)
      --body STRING      request body (Content-Length is added)
      --body-file FILE   request body read from FILE

TLS (https:// URLs):
      --tls-resume       resume TLS sessions on new connections (default)
      --no-tls-resume    full handshake on every connection
  -k, --insecure         do not verify the server certificate (default)
      --verify           verify it against the system CA store
      --cacert FILE      verify it against the CA certificates in FILE
      --sni NAME         server name to send (default: the URL's host unless an IP)

Output:
      --pool-header NAME response header naming the pool that answered (default X-Pool);
                         the summary shows the split observed per pool
      --json             one JSON object on stdout instead of the summary
      --no-progress      no progress line (it is shown on stderr only when it is a TTY)
  -h, --help             this text
      --version          print the version

Exit status: 0 when the run completed and at least one response arrived, 1 when
none did (or the target could not be set up), 2 on a usage error.
)";
}

namespace {

bool is_tchar(char c) {
  // RFC 9110 token characters.
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// One option at a time from argv: "--name value", "--name=value", "-x value", "-xvalue".
class ArgReader {
 public:
  ArgReader(int argc, const char* const* argv) : argc_(argc), argv_(argv) {}

  bool done() const { return i_ >= argc_; }
  std::string_view next() {
    attached_.reset();
    std::string_view a = argv_[i_++];
    if (a.size() > 2 && a.starts_with("--")) {
      size_t eq = a.find('=');
      if (eq != std::string_view::npos) {
        attached_ = a.substr(eq + 1);
        return a.substr(0, eq);
      }
    } else if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
      attached_ = a.substr(2);
      return a.substr(0, 2);
    }
    return a;
  }
  // The option's value: attached, or the next argument. Null when missing.
  std::optional<std::string_view> value() {
    if (attached_) {
      auto v = attached_;
      attached_.reset();
      return v;
    }
    if (i_ >= argc_) return std::nullopt;
    return std::string_view(argv_[i_++]);
  }
  bool has_attached() const { return attached_.has_value(); }

 private:
  int argc_;
  const char* const* argv_;
  int i_ = 1;
  std::optional<std::string_view> attached_;
};

bool read_file(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "--body-file: cannot read " + path;
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "--body-file: error reading " + path;
    return false;
  }
  return true;
}

// Fills *o from argv; every check fails with a one-line message in error().
class OptionParser {
 public:
  explicit OptionParser(Options* o) : o_(o) {}

  bool parse(int argc, const char* const* argv, ParseResult* r);
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }
  bool need(std::string_view name, std::optional<std::string_view> v, std::string_view* out) {
    if (!v) return fail(std::string(name) + " needs a value");
    *out = *v;
    return true;
  }
  bool count(std::string_view name, std::optional<std::string_view> v, uint64_t max, uint64_t* out);
  bool duration(std::string_view name, std::optional<std::string_view> v, uint64_t* out);
  bool header(std::string_view text);
  bool check();

  Options* o_;
  std::string error_;
  bool saw_duration_ = false;
  bool saw_requests_ = false;
  bool saw_body_ = false;
  std::string body_file_;
  std::vector<std::string_view> positional_;
};

bool OptionParser::count(std::string_view name, std::optional<std::string_view> v, uint64_t max,
                         uint64_t* out) {
  std::string_view s;
  if (!need(name, v, &s)) return false;
  auto n = parse_number<uint64_t>(s);
  if (!n || *n == 0 || *n > max)
    return fail(std::string(name) + ": expected a whole number from 1 to " + std::to_string(max) +
                ", got '" + std::string(s) + "'");
  *out = *n;
  return true;
}

bool OptionParser::duration(std::string_view name, std::optional<std::string_view> v,
                            uint64_t* out) {
  std::string_view s;
  if (!need(name, v, &s)) return false;
  auto ns = parse_duration_ns(s);
  if (!ns || *ns == 0)
    return fail(std::string(name) + ": expected a duration like 10s, 500ms or 2m, got '" +
                std::string(s) + "'");
  *out = *ns;
  return true;
}

bool OptionParser::header(std::string_view text) {
  size_t colon = text.find(':');
  std::string_view name = colon == std::string_view::npos ? text : text.substr(0, colon);
  if (colon == std::string_view::npos || !is_token(name))
    return fail("-H: expected 'Name: value', got '" + std::string(text) + "'");
  std::string_view value = trim(text.substr(colon + 1));
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return fail("-H " + std::string(name) + ": CR, LF and NUL are not allowed in a header value");
  o_->headers.emplace_back(std::string(name), std::string(value));
  return true;
}

bool OptionParser::parse(int argc, const char* const* argv, ParseResult* r) {
  ArgReader args(argc, argv);
  bool options_done = false;
  while (!args.done()) {
    std::string_view a = args.next();
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      positional_.push_back(a);
      continue;
    }
    std::string_view s;
    uint64_t n = 0;
    if (a == "--") {
      options_done = true;
    } else if (a == "-h" || a == "--help") {
      r->kind = ParseResult::Kind::Help;
      return true;
    } else if (a == "--version") {
      r->kind = ParseResult::Kind::Version;
      return true;
    } else if (a == "-t" || a == "--threads") {
      if (!count(a, args.value(), 1024, &n)) return false;
      o_->threads = static_cast<unsigned>(n);
    } else if (a == "-c" || a == "--connections") {
      if (!count(a, args.value(), 1'000'000, &n)) return false;
      o_->connections = static_cast<unsigned>(n);
    } else if (a == "-n" || a == "--requests") {
      if (!count(a, args.value(), UINT64_MAX / 2, &o_->requests)) return false;
      saw_requests_ = true;
    } else if (a == "-d" || a == "--duration") {
      if (!duration(a, args.value(), &o_->duration_ns)) return false;
      saw_duration_ = true;
    } else if (a == "--timeout") {
      if (!duration(a, args.value(), &o_->timeout_ns)) return false;
    } else if (a == "-r" || a == "--rate") {
      if (!need(a, args.value(), &s)) return false;
      auto rate = parse_number<double>(s);
      if (!rate || !std::isfinite(*rate) || *rate <= 0 || *rate > 1e9)
        return fail(std::string(a) + ": expected requests per second above 0, got '" +
                    std::string(s) + "'");
      o_->rate = *rate;
    } else if (a == "--new-conn") {
      o_->new_connection = true;
    } else if (a == "-m" || a == "--method") {
      if (!need(a, args.value(), &s)) return false;
      if (!is_token(s))
        return fail(std::string(a) + ": not a method token: '" + std::string(s) + "'");
      o_->method = std::string(s);
    } else if (a == "-H" || a == "--header") {
      if (!need(a, args.value(), &s) || !header(s)) return false;
    } else if (a == "--body") {
      if (!need(a, args.value(), &s)) return false;
      if (saw_body_) return fail("--body and --body-file: give one body");
      o_->body = std::string(s);
      o_->has_body = saw_body_ = true;
    } else if (a == "--body-file") {
      if (!need(a, args.value(), &s)) return false;
      if (saw_body_) return fail("--body and --body-file: give one body");
      body_file_ = std::string(s);
      o_->has_body = saw_body_ = true;
    } else if (a == "--tls-resume") {
      o_->tls_resume = true;
    } else if (a == "--no-tls-resume") {
      o_->tls_resume = false;
    } else if (a == "-k" || a == "--insecure") {
      o_->verify = false;
    } else if (a == "--verify") {
      o_->verify = true;
    } else if (a == "--cacert") {
      if (!need(a, args.value(), &s)) return false;
      o_->cacert = std::string(s);
      o_->verify = true;
    } else if (a == "--sni") {
      if (!need(a, args.value(), &s)) return false;
      o_->sni = std::string(s);
    } else if (a == "--pool-header") {
      if (!need(a, args.value(), &s)) return false;
      if (!is_token(s)) return fail("--pool-header: not a header name: '" + std::string(s) + "'");
      o_->pool_header = std::string(s);
    } else if (a == "--json") {
      o_->json = true;
    } else if (a == "--no-progress") {
      o_->progress = false;
    } else {
      return fail("unknown option '" + std::string(a) + "'");
    }
    // A flag that takes no value must not have one attached ("--json=1", "-kx").
    if (args.has_attached()) return fail("option '" + std::string(a) + "' takes no value");
  }
  return check();
}

bool OptionParser::check() {
  if (positional_.empty()) return fail("no URL given");
  if (positional_.size() > 1)
    return fail("one URL only; unexpected '" + std::string(positional_[1]) + "'");
  auto target = parse_url(positional_[0], &error_);
  if (!target) return false;
  o_->target = std::move(*target);
  o_->url = std::string(positional_[0]);
  if (saw_duration_ && saw_requests_)
    return fail("-d and -n: give a duration or a request count, not both");
  if (!saw_duration_ && !saw_requests_) o_->duration_ns = 10'000'000'000;
  if (o_->threads > o_->connections)
    return fail("-t " + std::to_string(o_->threads) + " is more than -c " +
                std::to_string(o_->connections) + ": every thread needs a connection");
  if (!body_file_.empty() && !read_file(body_file_, &o_->body, &error_)) return false;
  return true;
}

}  // namespace

ParseResult parse_args(int argc, const char* const* argv) {
  ParseResult r;
  OptionParser p(&r.options);
  if (!p.parse(argc, argv, &r)) {
    r.kind = ParseResult::Kind::Error;
    r.error = p.error();
    return r;
  }
  if (r.kind == ParseResult::Kind::Error) r.kind = ParseResult::Kind::Run;
  return r;
}

std::optional<Target> parse_url(std::string_view url, std::string* error) {
  Target t;
  auto bad = [&](const std::string& why) -> std::optional<Target> {
    *error = "URL '" + std::string(url) + "': " + why;
    return std::nullopt;
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  std::string_view scheme = url.substr(0, sep);
  if (iequals(scheme, "https"))
    t.tls = true;
  else if (!iequals(scheme, "http"))
    return bad("unsupported scheme '" + std::string(scheme) + "'");
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path =
      path_at == std::string_view::npos ? std::string_view("/") : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos)
    return bad("user information is not supported");

  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6] address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("expected ':' after ']'");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  for (char c : host)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return bad("bad character in host");
  uint16_t default_port = t.tls ? 443 : 80;
  t.port = default_port;
  if (!port.empty()) {
    auto p = parse_number<uint16_t>(port);
    if (!p || *p == 0) return bad("bad port '" + std::string(port) + "'");
    t.port = *p;
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return bad("spaces and control characters must be percent-encoded");
  t.host = std::string(host);
  t.path = path.starts_with('?') ? "/" + std::string(path) : std::string(path);
  bool v6 = t.host.find(':') != std::string::npos;
  t.authority = v6 ? "[" + t.host + "]" : t.host;
  if (t.port != default_port) t.authority += ":" + std::to_string(t.port);
  return t;
}

std::string build_request(const Options& o) {
  auto given = [&](std::string_view name) {
    for (const auto& [n, v] : o.headers)
      if (iequals(n, name)) return true;
    return false;
  };
  std::string r;
  r.reserve(256 + o.body.size());
  r += o.method + " " + o.target.path + " HTTP/1.1\r\n";
  if (!given("Host")) r += "Host: " + o.target.authority + "\r\n";
  if (!given("User-Agent")) r += "User-Agent: sluice-bench/" SLUICE_VERSION "\r\n";
  for (const auto& [name, value] : o.headers) r += name + ": " + value + "\r\n";
  if (o.has_body && !given("Content-Length") && !given("Transfer-Encoding"))
    r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  if (o.new_connection && !given("Connection")) r += "Connection: close\r\n";
  r += "\r\n";
  r += o.body;
  return r;
}

std::optional<uint64_t> parse_duration_ns(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double ns;
  };
  // Longest suffixes first so "ms" is not read as "s".
  static constexpr Unit kUnits[] = {
      {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
  };
  double scale = 1e9;  // a bare number is seconds
  std::string_view number = text;
  for (const Unit& u : kUnits) {
    if (text.size() > u.suffix.size() && text.ends_with(u.suffix)) {
      scale = u.ns;
      number = text.substr(0, text.size() - u.suffix.size());
      break;
    }
  }
  auto v = parse_number<double>(number);
  if (!v || !std::isfinite(*v) || *v < 0) return std::nullopt;
  double ns = *v * scale;
  if (ns >= static_cast<double>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<uint64_t>(std::llround(ns));
}

}  // namespace sluice::bench
