// A client connection: reads and parses requests, answers the ones sluice
// answers itself, hands the rest to its Exchange, enforces limits and
// timeouts, and keeps the connection alive between requests.
//
//            accept
//              |
//              v
//   +-----> ReadHead ----- bad input / limit ----> Closing (answer, FIN,
//   |          |                                     linger, close)
//   |    head complete, routed                          ^
//   |          v                                        |
//   +----- Proxying (Exchange owns the request) --------+
//   keep-alive |
//              v 101 from upstream
//            Tunnel  (bytes both ways until either side closes)
//
// Reading is paused whenever the input buffer is full or bytes in it are
// referenced by a write still in flight: that is the backpressure towards
// the client. Thread: the owning worker's loop only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/buffer.h"
#include "proxy/config/config.h"
#include "proxy/exchange.h"
#include "proxy/http/parser.h"
#include "proxy/timeouts.h"
#include "tls/session.h"

namespace sluice {

class Worker;
class Listener;

// What a connection needs only while a request is on it: the parser, the
// exchange with its scratch, the write and shutdown requests and the text of
// a local response. Taken from the worker's free list at a request's first
// byte and given back when the connection goes idle, so an idle keep-alive
// connection is its socket, its timeout and a few flags (memory per idle
// connection), and a busy worker reuses warm ones (no allocation per request).
struct RequestState {
  RequestState() : parser(http::Parser::Kind::Request) {}
  http::Parser parser;
  Exchange ex;
  uv_write_t wreq{};
  uv_shutdown_t sreq{};
  std::string out;  // locally generated responses
  // Armed while a write to the client is queued (not sent whole): no
  // progress for limits.client_send_timeout closes the connection.
  Timeout send_timeout{nullptr, nullptr};
};

// One queued write of TLS records to a client. Pooled per worker (taken
// when a record batch is queued, given back by its callback), so an idle TLS
// connection holds none.
struct TlsWrite {
  uv_write_t req;
  std::string data;
  Downstream* d;
  bool app;  // the caller's write (after_write follows), not a control record
};

class Downstream {
 public:
  enum class State : uint8_t { ReadHead, Proxying, Tunnel, Closing };

  static void accept(Worker& w, int fd, const Listener& listener, const sockaddr_storage& peer);
  // A parked connection (proxy/park.h) turned readable: a new Downstream
  // takes its socket and session.
  static void resume(Worker& w, int fd, const Listener& listener,
                     std::unique_ptr<tls::Session> tls);

  // ---- worker ----
  void tls_pump();  // deferred decryption (see want_read)
  bool deferred() const { return deferred_; }
  void set_deferred(bool d) { deferred_ = d; }
  void on_drain();  // idle: close now; busy: close after the current response
  // Housekeeping, once a second: a keep-alive connection with nothing read
  // for several calls in a row and nothing in flight is parked (this object
  // is then freed on the loop's next turn). True when it was.
  bool park_if_quiet();
  void abort();  // close at once, no response
  size_t worker_slot() const { return slot_; }
  void set_worker_slot(size_t s) { slot_ = static_cast<uint32_t>(s); }

  // ---- exchange ----
  Worker& worker() { return w_; }
  Buffer& in() { return in_; }
  // Gives the input buffer back to the worker's pool (the next read takes
  // one): only when it is drained and no write points into it.
  void release_in();
  http::Parser& parser() { return rq().parser; }
  std::string_view client_ip() const { return {client_ip_buf_, client_ip_len_}; }
  bool tls() const { return tls_ != nullptr; }
  bool closing() const { return state_ == State::Closing; }
  // One write to the client at a time; on_client_written() follows (unless
  // closed). Returns true when the caller's buffers are free again at once
  // (sent whole, or encrypted into the TLS session): the caller may reuse
  // them before the callback, e.g. read more of a response into them.
  bool write(const uv_buf_t* bufs, unsigned n);
  bool write_pending() const { return writing_; }
  void want_read();  // resume reading if the buffer has room and nothing forbids it
  void stop_read();
  void arm_body_timer();
  // The response (proxied or sluice's own) is complete: close, or wait for
  // the next request on the kept-alive connection.
  void response_done(bool keep_alive);
  void enter_tunnel();
  // Answer locally and close after the write.
  void fail(int status, std::string_view reason);
  // Reset the connection (RST): for a body over the limit after the head went up.
  void reset(std::string_view reason);

 private:
  Downstream(Worker& w, const Listener& listener);
  ~Downstream();

  void start(int fd, const sockaddr_storage& peer);
  // The libuv handle takes `fd` and the worker lists this connection; false
  // (the connection is closing) when libuv refuses the descriptor.
  bool open_socket(int fd);
  // Reading, with client_header_timeout running from now.
  void await_head();
  void set_client_ip(const sockaddr_storage& peer);
  bool parkable() const;
  void parse_head();
  void on_head();
  void respond_local(int status, bool close, std::string_view reason);
  void respond_with(int status, bool close, std::string_view reason, std::string_view content_type,
                    std::string_view body, std::string_view location);
  void respond_redirect(const config::Listener& l, std::string_view host, std::string_view target,
                        std::string_view path, bool has_body);
  void start_closing();
  void close_now(bool reset);
  void release_buffer_if_idle();
  void arm_timer(uint64_t ms, uint8_t kind);
  void log_local(int status, std::string_view reason, std::string_view request_id, uint64_t bytes);
  void set_idle(bool idle);
  // The request state, taken from the worker on first use.
  RequestState& rq() {
    if (rq_ == nullptr) take_request();
    return *rq_;
  }
  Exchange& ex() { return rq().ex; }
  bool ex_active() const { return rq_ != nullptr && rq_->ex.active(); }
  bool in_head() const { return rq_ != nullptr && rq_->parser.in_head(); }
  void take_request();
  void give_request();

  void on_data();
  void on_eof(int status);
  bool make_room();
  void after_write(int status);
  // TLS (downstream_tls.cc)
  void tls_on_read(ssize_t nread, const uv_buf_t* buf);
  void tls_write(const uv_buf_t* bufs, unsigned n);
  bool tls_write_all(const char* p, size_t n);
  bool tls_flush(bool app = false);
  static void on_tls_write(uv_write_t* req, int status);
  static constexpr size_t kTlsOutputLimit = 8u << 20;

  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_timer(void* self);
  static void on_send_timeout(void* self);
  void write_queued();    // a write is waiting for the socket: (re)arm the send timeout
  void write_progress();  // a queued write completed
  static void on_closed(uv_handle_t* h);

  friend class Exchange;

  // Ordered by size, so an idle connection (this object: measured as
  // memory per idle connection) carries little padding: 424 bytes on x86-64,
  // 248 of them libuv's handle.
  Worker& w_;
  const Listener& listener_;  // outlives every connection it accepted (Worker keeps it)
  uv_tcp_t tcp_{};
  Timeout timeout_{&Downstream::on_timer, this};
  Buffer in_;
  RequestState* rq_ = nullptr;
  std::unique_ptr<tls::Session> tls_;
  uint64_t msg_begin_ms_ = 0;
  uint32_t slot_ = 0;  // position in the worker's connection list
  uint32_t requests_ = 0;
  uint32_t msg_start_ = 0;  // offset of the current request's first byte in in_
  State state_ = State::ReadHead;
  uint8_t timer_kind_ = 0;
  uint8_t client_ip_len_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool read_eof_ = false;
  bool close_after_write_ = false;
  bool drain_close_ = false;
  bool counted_ = false;
  bool idle_ = false;         // counted in the server's idle connections
  bool deferred_ = false;     // on the worker's list of pending TLS pumps
  bool tls_blocked_ = false;  // plaintext waits in the session: our buffer was full
  uint8_t quiet_passes_ = 0;  // park_if_quiet() calls since the last read
  char client_ip_buf_[INET6_ADDRSTRLEN] = {0};
};

}  // namespace sluice
