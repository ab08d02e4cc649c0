#include "proxy/observe/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

namespace sluice::observe {

namespace {

std::mutex g_event_mu;

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // a closed log pipe must not take the proxy down
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"", 2);
        break;
      case '\\':
        out.append("\\\\", 2);
        break;
      case '\n':
        out.append("\\n", 2);
        break;
      case '\r':
        out.append("\\r", 2);
        break;
      case '\t':
        out.append("\\t", 2);
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00", 4);
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_ms(std::string& out, double ms) {
  if (!std::isfinite(ms) || ms < 0) ms = 0;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, std::round(ms * 1000.0) / 1000.0,
                         std::chars_format::fixed, 3);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

uint64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void append_iso_time(std::string& out, uint64_t unix_ms) {
  // Cache the formatted second: many lines share it.
  thread_local time_t cached_sec = -1;
  thread_local char cached[24];
  time_t sec = static_cast<time_t>(unix_ms / 1000);
  if (sec != cached_sec) {
    tm t{};
    gmtime_r(&sec, &t);
    strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &t);
    cached_sec = sec;
  }
  out.append(cached);
  char ms[8];
  unsigned v = static_cast<unsigned>(unix_ms % 1000);
  ms[0] = '.';
  ms[1] = static_cast<char>('0' + v / 100);
  ms[2] = static_cast<char>('0' + (v / 10) % 10);
  ms[3] = static_cast<char>('0' + v % 10);
  ms[4] = 'Z';
  out.append(ms, 5);
}

Event::Event(std::string_view level, std::string_view name) {
  line_.reserve(256);
  line_.append("{\"time\":\"");
  append_iso_time(line_, wall_ms());
  line_.append("\",\"level\":");
  append_json_string(line_, level);
  line_.append(",\"event\":");
  append_json_string(line_, name);
}

Event& Event::str(std::string_view key, std::string_view value) {
  line_.push_back(',');
  append_json_string(line_, key);
  line_.push_back(':');
  append_json_string(line_, value);
  return *this;
}

Event& Event::num(std::string_view key, int64_t value) {
  line_.push_back(',');
  append_json_string(line_, key);
  line_.push_back(':');
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  line_.append(buf, static_cast<size_t>(r.ptr - buf));
  return *this;
}

Event& Event::real(std::string_view key, double value) {
  line_.push_back(',');
  append_json_string(line_, key);
  line_.push_back(':');
  char buf[48];
  auto r = std::to_chars(buf, buf + sizeof buf, std::isfinite(value) ? value : 0.0);
  line_.append(buf, static_cast<size_t>(r.ptr - buf));
  return *this;
}

Event& Event::flag(std::string_view key, bool value) {
  line_.push_back(',');
  append_json_string(line_, key);
  line_.append(value ? ":true" : ":false");
  return *this;
}

Event::~Event() {
  line_.append("}\n");
  std::lock_guard<std::mutex> lock(g_event_mu);
  write_all(STDERR_FILENO, line_.data(), line_.size());
}

bool AccessSink::open(const std::string& where, std::string* error) {
  if (where == "off") return true;
  if (where == "-" || where.empty()) {
    fd_ = STDOUT_FILENO;
    return true;
  }
  fd_ = ::open(where.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    *error = "cannot open access log " + where + ": " + std::strerror(errno);
    return false;
  }
  owned_ = true;
  return true;
}

AccessSink::~AccessSink() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

void AccessSink::write(std::string_view batch) {
  std::lock_guard<std::mutex> lock(mu_);
  write_all(fd_, batch.data(), batch.size());
}

void AccessLog::append(const AccessRecord& r) {
  std::string& o = buf_;
  o.append("{\"time\":\"");
  append_iso_time(o, r.start_unix_ms);
  o.append("\",\"request_id\":");
  append_json_string(o, r.request_id);
  if (!r.trace_id.empty()) {
    o.append(",\"trace_id\":");
    append_json_string(o, r.trace_id);
  }
  o.append(",\"client_ip\":");
  append_json_string(o, r.client_ip);
  o.append(",\"method\":");
  append_json_string(o, r.method);
  o.append(",\"path\":");
  append_json_string(o, r.path);
  o.append(",\"status\":");
  char buf[24];
  auto n = std::to_chars(buf, buf + sizeof buf, r.status);
  o.append(buf, static_cast<size_t>(n.ptr - buf));
  o.append(",\"bytes\":");
  n = std::to_chars(buf, buf + sizeof buf, r.bytes);
  o.append(buf, static_cast<size_t>(n.ptr - buf));
  o.append(",\"duration_ms\":");
  append_ms(o, r.duration_ms);
  o.append(",\"route\":");
  if (r.route.empty())
    o.append("null");
  else
    append_json_string(o, r.route);
  o.append(",\"pool\":");
  if (r.pool.empty())
    o.append("null");
  else
    append_json_string(o, r.pool);
  o.append(",\"upstream\":");
  if (r.upstream.empty())
    o.append("null");
  else
    append_json_string(o, r.upstream);
  o.append(",\"upstream_ms\":");
  if (r.upstream_ms < 0)
    o.append("null");
  else
    append_ms(o, r.upstream_ms);
  o.append("}\n");
  if (o.size() > 64 * 1024) flush();
}

void AccessLog::flush() {
  if (buf_.empty()) return;
  if (enabled()) sink_->write(buf_);
  buf_.clear();
}

}  // namespace sluice::observe
