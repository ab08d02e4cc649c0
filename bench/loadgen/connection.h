// Connection: one client connection slot of a load-generator worker, carrying
// at most one request at a time (no pipelining), as an explicit state machine.
//
//            start()                 connected (plain)
//   Closed ----------> Connecting ------------------------------+
//     ^                    |  connected (TLS)                   v
//     |                    +------------> Handshaking ------> Active --response,
//     |                                   handshake done      ^   |  keep-alive--> Idle
//     |                                                       |   |                  |
//     |                                   start() ------------+---|------------------+
//     |                                                           |
//     +---- close callback ---- Closing <---- error, timeout, ----+  (also from Connecting,
//                                             response with close,      Handshaking, and Idle
//                                             --new-conn, shutdown()    when the server closes)
//
// start() is valid in Closed, Idle and Closing (then it runs from the close
// callback: a uv_tcp_t is reusable only once closed). Every started request ends
// in exactly one Worker::on_response() or Worker::on_error(), then
// Worker::on_available() says the slot can take the next request.
//
// Memory: the request bytes belong to the worker (shared, immutable); reads go
// into the worker's buffer and are consumed inside the read callback; what a
// connection owns is its handles, a ResponseReader and, with TLS, a
// tls::Session and one output buffer.
//
// Thread affinity: the owning worker's loop thread only. A Connection is
// destroyed only after its handles are closed (Worker::~Worker, after the loop
// has returned), never from inside one of its callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bench/loadgen/response.h"
#include "bench/loadgen/stats.h"
#include "tls/session.h"

namespace sluice::bench {

class Worker;

class Connection {
 public:
  enum class State : uint8_t { Closed, Connecting, Handshaking, Active, Idle, Closing };

  Connection(Worker& worker, uv_loop_t* loop);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one request whose latency counts from `since_ns` (uv_hrtime clock).
  void start(uint64_t since_ns);
  // End of the run: close both handles. Must not carry a request.
  void shutdown();

  State state() const { return state_; }
  static const char* to_string(State s);
  // The legal transitions, for the tests and the debug checks.
  static bool allowed(State from, State to);

 private:
  void transition(State to);
  void connect();
  void send_request();
  void write(char* data, size_t n);
  void begin_close();
  void finish(ErrorKind kind);
  void fail(ErrorKind kind);
  void complete_response(bool reusable);
  void notify();

  void on_connected(int status);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_eof();
  void on_bytes(const char* data, size_t n);  // plaintext: to the response reader
  void on_tls_bytes(const char* data, size_t n);
  void on_handshake_done();
  void write_tls_request();
  void flush_tls();
  void on_written(int status);
  void on_closed();
  void on_timeout();

  Worker& worker_;
  uv_loop_t* loop_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  State state_ = State::Closed;

  ResponseReader reader_;
  std::unique_ptr<tls::Session> tls_;
  std::string tls_out_;         // ciphertext being written (one uv_write at a time)
  size_t request_tls_off_ = 0;  // request bytes handed to the TLS session so far

  uint64_t since_ns_ = 0;   // latency origin of the request carried
  bool carrying_ = false;   // a request started and not yet reported
  bool available_ = false;  // reported; Worker::on_available() is due (notify())
  bool start_after_close_ = false;
  bool writing_ = false;  // write_req_ is in flight
  bool shutting_down_ = false;
};

}  // namespace sluice::bench
