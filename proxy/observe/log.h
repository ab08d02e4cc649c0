// Logs: access lines (stdout or a file) and events (stderr), both JSON lines.
//
// Events are rare (start, stop, errors): formatted on the calling thread and
// written with one write(2) under a mutex so lines from several threads never
// interleave. Access lines are frequent: each worker appends to its own
// AccessLog buffer (no lock) and flushes it once per loop iteration.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice::observe {

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);
// Appends a number with up to 3 decimals.
void append_ms(std::string& out, double ms);
// Appends "2026-11-22T05:40:00.123Z" for a wall-clock time in milliseconds.
void append_iso_time(std::string& out, uint64_t unix_ms);
uint64_t wall_ms();

class Event {
 public:
  Event(std::string_view level, std::string_view name);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event& str(std::string_view key, std::string_view value);
  Event& num(std::string_view key, int64_t value);
  Event& real(std::string_view key, double value);
  Event& flag(std::string_view key, bool value);

 private:
  std::string line_;
};

// Where access lines go. Owned by the server; shared by workers.
class AccessSink {
 public:
  // "-" = stdout, "off" = disabled, else a path opened for append.
  bool open(const std::string& where, std::string* error);
  ~AccessSink();
  bool enabled() const { return fd_ >= 0; }
  void write(std::string_view batch);  // whole lines only

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::mutex mu_;
};

struct AccessRecord {
  uint64_t start_unix_ms;
  std::string_view request_id;
  std::string_view trace_id;  // W3C trace id, empty = none
  std::string_view client_ip;
  std::string_view method;
  std::string_view path;
  int status;
  uint64_t bytes;
  double duration_ms;
  std::string_view route;     // empty = none
  std::string_view pool;      // empty = none
  std::string_view upstream;  // empty = none
  double upstream_ms;         // < 0 = none
};

// Per-worker buffer in front of an AccessSink. Loop thread only.
class AccessLog {
 public:
  explicit AccessLog(AccessSink* sink) : sink_(sink) {}
  bool enabled() const { return sink_ != nullptr && sink_->enabled(); }
  void append(const AccessRecord& r);
  void flush();
  bool pending() const { return !buf_.empty(); }

 private:
  AccessSink* sink_;
  std::string buf_;
};

}  // namespace sluice::observe
