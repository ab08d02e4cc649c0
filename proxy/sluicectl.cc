// sluicectl: the admin client. One HTTP/1.1 request over the admin Unix
// socket with plain blocking sockets (a CLI needs no event loop), a 10 s
// deadline for the whole exchange, and a readable rendering of the answer.
//
// Exit codes: 0 ok, 1 the server refused the command (its error on stderr),
// 2 usage error, 3 cannot reach the server (connect, timeout, broken reply).
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/admin/json.h"
#include "sluice_version.h"

namespace {

using sluice::json::Value;

constexpr const char* kDefaultSocket = "/run/sluice/admin.sock";
constexpr int kTimeoutMs = 10'000;
constexpr size_t kMaxResponseBytes = 64u << 20;

enum Exit : int { kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

constexpr const char* kHelp = R"(usage: sluicectl [-s SOCKET] [--json] COMMAND [ARGS]

Talks to a running sluice over its admin socket.

commands:
  status                        routes, weights, rollbacks and per-pool window stats
  split ROUTE POOL=WEIGHT...    set a route's weights, e.g. split app blue=90 canary=10
  rollback ROUTE [POOL]         roll back the route's non-baseline pools (or POOL)
  reload                        reload the configuration (like SIGHUP)
  metrics                       print the Prometheus metrics

options:
  -s, --socket PATH   admin socket (default: $SLUICE_ADMIN_SOCKET, else /run/sluice/admin.sock)
      --json          print the server's JSON instead of a table / a summary line
      --dry-run       split, rollback, reload: validate only, change nothing
  -h, --help          this help
      --version       print the version

exit status: 0 ok, 1 the server refused the command, 2 usage error,
             3 cannot reach sluice on the admin socket
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "sluicectl: %s\nTry 'sluicectl --help'.\n", message.c_str());
  std::exit(kUsage);
}

// ---------------------------------------------------------------- transport

struct Response {
  int status = 0;
  std::string reason;
  std::string body;
};

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

class Client {
 public:
  explicit Client(std::string socket_path) : path_(std::move(socket_path)) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  // On failure prints the reason and returns nullopt (exit 3).
  std::optional<Response> exchange(std::string_view method, const std::string& target,
                                   const std::string& body) {
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    if (!connect()) return std::nullopt;
    std::string req;
    req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    req.append("Host: sluice\r\nUser-Agent: sluicectl/" SLUICE_VERSION "\r\n");
    req.append("Accept: application/json\r\nConnection: close\r\n");
    if (!body.empty()) req.append("Content-Type: application/json\r\n");
    if (!body.empty() || method == "PUT" || method == "POST") {
      req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    req.append("\r\n").append(body);
    if (!send_all(req)) return std::nullopt;
    return read_response();
  }

 private:
  bool fail(const std::string& message) {
    std::fprintf(stderr, "sluicectl: %s\n", message.c_str());
    return false;
  }

  bool connect() {
    sockaddr_un sa{};
    if (path_.size() >= sizeof sa.sun_path) {
      return fail("cannot connect to admin socket " + path_ + ": path too long");
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail(std::string("cannot create a socket: ") + std::strerror(errno));
    // A Unix connect blocks while the listener's backlog is full; bound it.
    timeval tv{kTimeoutMs / 1000, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      const int e = errno;
      std::string hint;
      if (e == ENOENT || e == ECONNREFUSED) {
        hint = " (is sluice running? set the socket with -s PATH or SLUICE_ADMIN_SOCKET)";
      } else if (e == EACCES || e == EPERM) {
        hint = " (the admin socket is mode 0600: run as sluice's user or root)";
      } else if (e == EAGAIN || e == EWOULDBLOCK) {
        hint = " (sluice did not accept within 10 s)";
      }
      return fail("cannot connect to admin socket " + path_ + ": " + std::strerror(e) + hint);
    }
    return true;
  }

  // Waits for `events` until the deadline. False on timeout (message printed).
  bool wait(short events) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline_ - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        return fail("no complete answer from " + path_ + " within " +
                    std::to_string(kTimeoutMs / 1000) + " s");
      }
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    }
  }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      if (!wait(POLLOUT)) return false;
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return fail("cannot send to " + path_ + ": " + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more; 0 at EOF, -1 on error (message printed).
  ssize_t read_some(std::string* buf) {
    if (!wait(POLLIN)) return -1;
    char tmp[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, MSG_DONTWAIT);
      if (n >= 0) {
        buf->append(tmp, static_cast<size_t>(n));
        return n;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait(POLLIN)) return -1;
        continue;
      }
      fail("cannot read from " + path_ + ": " + std::strerror(errno));
      return -1;
    }
  }

  std::optional<Response> read_response() {
    std::string buf;
    for (;;) {
      size_t head_end = buf.find("\r\n\r\n");
      while (head_end == std::string::npos) {
        if (buf.size() > 65536) {
          fail("malformed answer from " + path_ + ": response head too large");
          return std::nullopt;
        }
        const ssize_t n = read_some(&buf);
        if (n < 0) return std::nullopt;
        if (n == 0) {
          fail("sluice closed the connection on " + path_ + " without a complete answer");
          return std::nullopt;
        }
        head_end = buf.find("\r\n\r\n");
      }
      Response r;
      std::optional<size_t> content_length;
      if (!parse_head(std::string_view(buf).substr(0, head_end), &r, &content_length)) {
        fail("malformed answer from " + path_);
        return std::nullopt;
      }
      buf.erase(0, head_end + 4);
      if (r.status >= 100 && r.status < 200) continue;  // 100 Continue: the real one follows
      if (content_length && *content_length > kMaxResponseBytes) {
        fail("answer from " + path_ + " is too large");
        return std::nullopt;
      }
      for (;;) {
        if (content_length && buf.size() >= *content_length) {
          buf.resize(*content_length);
          break;
        }
        const ssize_t n = read_some(&buf);
        if (n < 0) return std::nullopt;
        if (n == 0) {
          if (content_length) {
            fail("sluice closed the connection on " + path_ + " in the middle of the answer");
            return std::nullopt;
          }
          break;  // body delimited by the close
        }
        if (buf.size() > kMaxResponseBytes) {
          fail("answer from " + path_ + " is too large");
          return std::nullopt;
        }
      }
      r.body = std::move(buf);
      return r;
    }
  }

  static bool parse_head(std::string_view head, Response* r, std::optional<size_t>* cl) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1.") return false;
    const std::string_view code = line.substr(9, 3);
    int status = 0;
    for (char c : code) {
      if (c < '0' || c > '9') return false;
      status = status * 10 + (c - '0');
    }
    r->status = status;
    r->reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      line = head.substr(0, eol);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      if (name == "content-length") {
        size_t n = 0;
        if (value.empty()) return false;
        for (char c : value) {
          if (c < '0' || c > '9' || n > (size_t{1} << 40)) return false;
          n = n * 10 + static_cast<size_t>(c - '0');
        }
        *cl = n;
      }
    }
    return true;
  }

  std::string path_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point deadline_;
};

// ---------------------------------------------------------------- rendering

// Display width of UTF-8 text (every code point counts one column: enough for
// the block characters used here).
size_t width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string pad_right(std::string s, size_t w) {
  const size_t have = width(s);
  if (have < w) s.append(w - have, ' ');
  return s;
}

std::string pad_left(std::string s, size_t w) {
  const size_t have = width(s);
  if (have < w) s.insert(0, w - have, ' ');
  return s;
}

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A JSON scalar as short text; "-" when absent or null.
std::string scalar(const Value* v) {
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return v->as_string();
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  if (v->is_number()) {
    if (v->is_integer() && !v->is_negative()) return std::to_string(v->as_uint64());
    if (v->is_integer() && v->fits_int64()) return std::to_string(v->as_int64());
    return format("%.4g", v->as_double());
  }
  return sluice::json::to_string(*v);
}

std::string uptime_text(const Value* v) {
  if (v == nullptr || !v->is_number()) return "-";
  const auto s = static_cast<uint64_t>(std::max(0.0, v->as_double()));
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%llud %lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lluh %02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%llum %02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  }
  return buf;
}

double number_or(const Value* v, double fallback) {
  return v != nullptr && v->is_number() ? v->as_double() : fallback;
}

// "████████░░ 80": the bar shows the pool's share of the route's traffic.
std::string weight_bar(const Value* weight, double total) {
  if (weight == nullptr || !weight->is_number()) return "-";
  const double w = weight->as_double();
  const double share = total > 0 ? w / total : 0;
  int filled = static_cast<int>(std::lround(share * 10));
  if (filled == 0 && w > 0) filled = 1;  // a small but live pool is visible
  filled = std::clamp(filled, 0, 10);
  std::string bar;
  for (int i = 0; i < 10; ++i) bar += i < filled ? "\u2588" : "\u2591";
  return bar + " " + scalar(weight);
}

// One line for the rollback / rollout state: known fields first, the rest as key=value.
std::string describe_rollback(const Value& rb) {
  if (!rb.is_object()) return scalar(&rb);
  std::string out;
  const Value* pool = rb.find("pool");
  out = pool != nullptr ? "rolled back " + scalar(pool) : "rolled back";
  std::string why;
  if (const Value* reason = rb.find("reason")) why = scalar(reason);
  if (const Value* rate = rb.find("observed_rate"); rate != nullptr && rate->is_number()) {
    if (!why.empty()) why += ' ';
    why += format("%.1f%%", rate->as_double() * 100);
  }
  if (const Value* req = rb.find("requests"); req != nullptr && !req->is_null()) {
    if (!why.empty()) why += ' ';
    why += "over " + scalar(req) + " requests";
  }
  if (!why.empty()) out += " (" + why + ")";
  if (const Value* at = rb.find("at"); at != nullptr && !at->is_null()) out += " at " + scalar(at);
  for (const auto& m : rb.members()) {
    if (m.key == "pool" || m.key == "reason" || m.key == "observed_rate" || m.key == "requests" ||
        m.key == "at") {
      continue;
    }
    out += " " + m.key + "=" + scalar(&m.value);
  }
  return out;
}

std::string describe_object(const Value& v) {
  if (!v.is_object()) return scalar(&v);
  std::string out;
  for (const auto& m : v.members()) {
    if (!out.empty()) out += " ";
    out += m.key + "=" + scalar(&m.value);
  }
  return out.empty() ? "-" : out;
}

void render_route(const Value& route) {
  std::printf("\nroute %s\n", scalar(route.find("name")).c_str());
  const Value* configured = route.find("configured");
  const Value* effective = route.find("effective");
  const Value* pools = route.find("pools");

  const Value* rb = route.find("rollback");
  if (rb == nullptr || rb->is_null() || (rb->is_array() && rb->size() == 0)) {
    std::printf("  rollback  none\n");
  } else if (rb->is_array()) {
    for (const Value& one : rb->items())
      std::printf("  rollback  %s\n", describe_rollback(one).c_str());
  } else {
    std::printf("  rollback  %s\n", describe_rollback(*rb).c_str());
  }
  const Value* ro = route.find("rollout");
  std::printf("  rollout   %s\n",
              ro == nullptr || ro->is_null() ? "none" : describe_object(*ro).c_str());

  // Pools in order: configured, then any others the server reports.
  std::vector<std::string> names;
  const auto add = [&](const Value* obj) {
    if (obj == nullptr || !obj->is_object()) return;
    for (const auto& m : obj->members()) {
      if (std::find(names.begin(), names.end(), m.key) == names.end()) names.push_back(m.key);
    }
  };
  add(configured);
  add(effective);
  add(pools);
  double total = 0;
  if (effective != nullptr && effective->is_object()) {
    for (const auto& m : effective->members()) total += number_or(&m.value, 0);
  }
  size_t name_w = 4;
  for (const auto& n : names) name_w = std::max(name_w, width(n));

  std::printf("  %s  %10s  %-15s  %9s  %7s  %7s  %9s  %s\n", pad_right("POOL", name_w).c_str(),
              "CONFIGURED", "EFFECTIVE", "REQUESTS", "ERRORS", "ERR%", "P99", "VERDICT");
  for (const auto& n : names) {
    const Value* conf = configured != nullptr ? configured->find(n) : nullptr;
    const Value* eff = effective != nullptr ? effective->find(n) : nullptr;
    const Value* st = pools != nullptr ? pools->find(n) : nullptr;
    const auto stat = [&](const char* key) { return st != nullptr ? st->find(key) : nullptr; };
    std::string rate = "-";
    if (const Value* r = stat("error_rate"); r != nullptr && r->is_number()) {
      rate = format("%.2f%%", r->as_double() * 100);
    }
    std::string p99 = "-";
    if (const Value* p = stat("p99_ms"); p != nullptr && p->is_number()) {
      p99 = format("%.1fms", p->as_double());
    }
    std::printf("  %s  %s  %s  %s  %s  %s  %s  %s\n", pad_right(n, name_w).c_str(),
                pad_left(scalar(conf), 10).c_str(), pad_right(weight_bar(eff, total), 15).c_str(),
                pad_left(scalar(stat("window_requests")), 9).c_str(),
                pad_left(scalar(stat("window_errors")), 7).c_str(), pad_left(rate, 7).c_str(),
                pad_left(p99, 9).c_str(), scalar(stat("verdict")).c_str());
  }
}

int render_status(const std::string& body) {
  sluice::json::ParseError err;
  std::optional<Value> doc = sluice::json::parse(body, &err);
  if (!doc || !doc->is_object()) {
    std::fprintf(stderr, "sluicectl: the status answer is not a JSON object (%s)\n",
                 doc ? "wrong shape" : err.describe().c_str());
    return kRefused;
  }
  std::string line = "sluice " + scalar(doc->find("version"));
  line += "  up " + uptime_text(doc->find("uptime_s"));
  if (const Value* w = doc->find("workers")) line += "  workers " + scalar(w);
  if (const Value* c = doc->find("connections"); c != nullptr && c->is_object()) {
    line += "  connections " + scalar(c->find("active")) + " active, " + scalar(c->find("idle")) +
            " idle";
  }
  std::printf("%s\n", line.c_str());
  const Value* routes = doc->find("routes");
  if (routes == nullptr || !routes->is_array() || routes->size() == 0) {
    std::printf("\nno routes\n");
    return kOk;
  }
  for (const Value& r : routes->items()) render_route(r);
  return kOk;
}

// The server refused: print its error (and config errors, if listed).
int report_refusal(const Response& r) {
  std::optional<Value> doc = sluice::json::parse(r.body);
  const Value* error = doc ? doc->find("error") : nullptr;
  if (error != nullptr && error->is_string()) {
    std::fprintf(stderr, "sluicectl: %s\n", error->as_string().c_str());
    if (const Value* list = doc->find("errors"); list != nullptr && list->is_array()) {
      for (const Value& e : list->items()) std::fprintf(stderr, "  %s\n", scalar(&e).c_str());
    }
  } else {
    std::string text = r.body.substr(0, 500);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    std::fprintf(stderr, "sluicectl: sluice answered %d %s%s%s\n", r.status, r.reason.c_str(),
                 text.empty() ? "" : ": ", text.c_str());
  }
  return kRefused;
}

void print_body(const std::string& body) {
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
}

// ---------------------------------------------------------------- main

struct Args {
  std::string socket;
  bool json = false;
  bool dry_run = false;
  std::vector<std::string> words;  // command and its arguments
};

Args parse_args(int argc, char** argv) {
  Args a;
  bool have_socket = false;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      a.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kHelp, stdout);
      std::exit(kOk);
    } else if (arg == "--version") {
      std::printf("sluicectl %s\n", SLUICE_VERSION);
      std::exit(kOk);
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--dry-run") {
      a.dry_run = true;
    } else if (arg == "-s" || arg == "--socket") {
      if (i + 1 >= argc) usage_error(arg + " needs a socket path");
      a.socket = argv[++i];
      have_socket = true;
    } else if (arg.rfind("--socket=", 0) == 0) {
      a.socket = arg.substr(9);
      have_socket = true;
    } else if (arg.rfind("-s", 0) == 0 && arg.size() > 2 && arg[2] != '-') {
      a.socket = arg.substr(2);
      have_socket = true;
    } else {
      usage_error("unknown option " + arg);
    }
  }
  if (have_socket && a.socket.empty()) usage_error("the socket path must not be empty");
  if (!have_socket) {
    const char* env = std::getenv("SLUICE_ADMIN_SOCKET");
    a.socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  }
  return a;
}

int run(const Args& a) {
  if (a.words.empty()) usage_error("no command given (status, split, rollback, reload, metrics)");
  const std::string& cmd = a.words[0];
  const std::vector<std::string> rest(a.words.begin() + 1, a.words.end());
  const bool mutating = cmd == "split" || cmd == "rollback" || cmd == "reload";
  if (a.dry_run && !mutating) usage_error("--dry-run applies to split, rollback and reload only");
  const std::string dry = a.dry_run ? "dry_run=1" : "";

  std::string method, target, body, confirmation;
  if (cmd == "status") {
    if (!rest.empty()) usage_error("status takes no arguments");
    method = "GET";
    target = "/v1/status";
  } else if (cmd == "metrics") {
    if (!rest.empty()) usage_error("metrics takes no arguments");
    method = "GET";
    target = "/metrics";
  } else if (cmd == "reload") {
    if (!rest.empty()) usage_error("reload takes no arguments");
    method = "POST";
    target = "/v1/reload" + (dry.empty() ? "" : "?" + dry);
    confirmation =
        a.dry_run ? "configuration is valid (dry run: nothing changed)" : "configuration reloaded";
  } else if (cmd == "split") {
    if (rest.size() < 2)
      usage_error("usage: split ROUTE POOL=WEIGHT... (e.g. split app blue=90 canary=10)");
    const std::string& route = rest[0];
    if (route.empty()) usage_error("the route name must not be empty");
    sluice::json::Writer w;
    w.begin_object();
    std::vector<std::string> seen;
    std::string summary;
    for (size_t i = 1; i < rest.size(); ++i) {
      const std::string& kv = rest[i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size()) {
        usage_error("expected POOL=WEIGHT, got '" + kv + "'");
      }
      const std::string pool = kv.substr(0, eq);
      const std::string weight = kv.substr(eq + 1);
      uint64_t v = 0;
      for (char c : weight) {
        if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
          usage_error("weight of pool '" + pool + "' must be an integer >= 0, got '" + weight +
                      "'");
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (std::find(seen.begin(), seen.end(), pool) != seen.end()) {
        usage_error("pool '" + pool + "' given twice");
      }
      seen.push_back(pool);
      w.key(pool).value(v);
      summary += " " + pool + "=" + std::to_string(v);
    }
    w.end_object();
    body = w.take();
    method = "PUT";
    target = "/v1/routes/" + url_encode(route) + "/split" + (dry.empty() ? "" : "?" + dry);
    confirmation =
        a.dry_run ? "route " + route + ": split" + summary + " is valid (dry run: nothing changed)"
                  : "route " + route + ": split set to" + summary;
  } else if (cmd == "rollback") {
    if (rest.empty() || rest.size() > 2) usage_error("usage: rollback ROUTE [POOL]");
    const std::string& route = rest[0];
    if (route.empty()) usage_error("the route name must not be empty");
    std::string query;
    if (rest.size() == 2) {
      if (rest[1].empty()) usage_error("the pool name must not be empty");
      query = "pool=" + url_encode(rest[1]);
    }
    if (!dry.empty()) query += (query.empty() ? "" : "&") + dry;
    method = "POST";
    target = "/v1/routes/" + url_encode(route) + "/rollback" + (query.empty() ? "" : "?" + query);
    const std::string what = rest.size() == 2 ? rest[1] : "the non-baseline pools";
    confirmation = a.dry_run ? "route " + route + ": rollback of " + what +
                                   " is valid (dry run: nothing changed)"
                             : "route " + route + ": rolled back " + what;
  } else {
    usage_error("unknown command '" + cmd + "' (status, split, rollback, reload, metrics)");
  }

  Client client(a.socket);
  std::optional<Response> r = client.exchange(method, target, body);
  if (!r) return kUnreachable;
  if (r->status >= 300) {
    if (a.json && !r->body.empty()) print_body(r->body);
    return report_refusal(*r);
  }
  if (cmd == "metrics" || a.json) {
    print_body(r->body);
    return kOk;
  }
  if (cmd == "status") return render_status(r->body);
  // 202: the reload waits for new upstream host names to resolve.
  if (r->status == 202) {
    confirmation = "configuration valid; reload pending until its new host names resolve";
  }
  std::printf("%s\n", confirmation.c_str());
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  const int rc = run(args);
  std::fflush(stdout);
  return rc;
}
