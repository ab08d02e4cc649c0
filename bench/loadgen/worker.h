// Worker: one load-generator thread. It owns a uv loop, its share of the
// connections, its Stats, and the timetable of the requests it sends.
//
// Open loop (--rate R over T workers): request j of the whole run is due at
// start + j/R seconds, and worker i sends j = i, i+T, i+2T, ... Each request is
// handed to an idle connection when it is due; when none is idle it waits (the
// backlog is just the range of due, unsent indices: nothing is stored) and its
// latency still counts from the time it was due, so a stalled server shows in
// the percentiles instead of slowing the clock (no coordinated omission). A
// request that waited longer than --timeout for a connection is counted as a
// timeout without being sent.
//
// Closed loop (no --rate): every idle connection sends at once; latency counts
// from the send.
//
// A run ends when the worker's share of -n is sent, or at -d (open loop: the
// timetable holds exactly the requests due before -d), or on stop(); requests
// in flight then still complete or time out, then every handle is closed and
// run() returns.
//
// Threads: everything runs on the worker's thread except stop() and
// finished_requests(), which any thread may call.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/loadgen/options.h"
#include "bench/loadgen/stats.h"

namespace sluice::bench {

class Connection;
class ResponseReader;
class TlsClient;

// What one worker sends; pure arithmetic over the Options (unit-tested).
struct Plan {
  unsigned index = 0;        // this worker's number, 0-based
  unsigned connections = 0;  // its share of -c
  uint64_t limit = 0;        // requests to send; UINT64_MAX: until the deadline
  uint64_t deadline_ns =
      0;  // closed loop with -d: stop sending this long after the start; 0 = none
};
Plan make_plan(const Options& options, unsigned index);
// Open loop: how far request j of the run is due after the start.
uint64_t due_offset_ns(uint64_t j, double rate);
// Open loop with -d: how many requests of the whole run are due before it ends.
uint64_t requests_due_within(uint64_t duration_ns, double rate);

class Worker {
 public:
  // `request` (the bytes of one request) and `address` must outlive the worker.
  // `on_done` is called on the worker's thread as run() ends, after done() is true.
  Worker(const Options& options, Plan plan, const std::string& request,
         const sockaddr_storage& address, std::function<void()> on_done);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Builds the loop, handles and TLS context; false with *error set.
  bool init(std::string* error);
  // The thread body: runs the loop until the worker's part of the run is over.
  // `start_ns` (uv_hrtime clock) is when request 0 of the whole run is due.
  void run(uint64_t start_ns);
  // Any thread: stop sending; requests in flight still finish (or time out).
  void stop();
  // Any thread: responses plus failed requests so far (for the progress line).
  uint64_t finished_requests() const { return finished_.load(std::memory_order_relaxed); }
  // Any thread: run() is over (set just before `done` is signalled).
  bool done() const { return done_flag_.load(std::memory_order_acquire); }
  // After done().
  const Stats& stats() const { return stats_; }

  // --- for Connection (worker thread)
  const Options& options() const { return options_; }
  const std::string& request() const { return request_; }
  const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&address_); }
  TlsClient* tls() const { return tls_.get(); }
  Stats& stats() { return stats_; }
  // One shared read buffer and one for TLS plaintext: a read callback consumes
  // what it reads before it returns, so connections never need their own.
  uv_buf_t read_buffer() {
    return uv_buf_init(read_buf_.data(), static_cast<unsigned>(read_buf_.size()));
  }
  std::vector<char>& plaintext_buffer() { return plain_buf_; }

  void on_response(const ResponseReader& response, uint64_t since_ns, uint64_t now_ns);
  void on_error(ErrorKind kind, uint64_t now_ns);
  // The connection can take the next request (it may still be closing).
  void on_available(Connection& c);

 private:
  void pump();
  bool sending_done(uint64_t now) const;
  uint64_t due_ns(uint64_t k) const;  // open loop: when this worker's k-th request is due
  void arm_timer(uint64_t at_ns, uint64_t now_ns);
  void maybe_finish();
  void count_failure(ErrorKind kind, uint64_t now_ns);
  void on_stop_requested();
  void publish_progress() {
    finished_.store(stats_.responses + stats_.error_total(), std::memory_order_relaxed);
  }

  const Options& options_;
  const Plan plan_;
  uint64_t start_ns_ = 0;
  uint64_t deadline_ns_ = 0;  // absolute; 0 = none
  const std::string& request_;
  const sockaddr_storage& address_;
  std::function<void()> on_done_;

  uv_loop_t loop_{};
  bool loop_ready_ = false;
  bool ran_ = false;
  // Next due request (open loop) or the deadline (closed loop). A timerfd
  // polled by the loop, not a uv_timer_t: libuv timers count whole
  // milliseconds, so at 5,000 req/s a uv_timer_t would send requests in
  // bursts of five, 1 ms apart, and every latency would carry up to 1 ms of
  // the client's own lateness. A timerfd wakes the loop within microseconds
  // of the due time (CLOCK_MONOTONIC, the clock of uv_hrtime).
  int timer_fd_ = -1;
  uv_poll_t timer_poll_{};
  void stop_timer();
  uv_async_t stop_async_{};
  std::mutex stop_mutex_;  // stop() against the close of stop_async_
  bool stop_closed_ = false;

  std::unique_ptr<TlsClient> tls_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;
  std::vector<char> read_buf_;
  std::vector<char> plain_buf_;

  uint64_t sent_ = 0;  // requests handed out (or expired in the backlog)
  uint64_t in_flight_ = 0;
  bool stopping_ = false;  // stop() arrived
  bool in_pump_ = false;
  bool finishing_ = false;
  Stats stats_;
  std::atomic<uint64_t> finished_{0};
  std::atomic<bool> done_flag_{false};
};

}  // namespace sluice::bench
