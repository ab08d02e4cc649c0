// Upstream connections and the per-worker keep-alive pools.
//
// An Upstream is owned by the pool while idle and by one Exchange while busy.
// Idle connections keep a read pending (into a scratch buffer) so a close by
// the server is noticed at once, and are retired before the server's own
// keep-alive timeout (its `Keep-Alive: timeout=N`, or 60 s): Node.js closes
// idle sockets after 5 s, and reusing one as it closes is the classic 502.
// Thread: the owning worker's loop only.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "proxy/buffer.h"
#include "proxy/http/parser.h"
#include "proxy/stats.h"
#include "proxy/timeouts.h"

namespace sluice {

class Worker;
class Exchange;

// Upstream connection gauges of one worker, for metrics: written only by the
// worker's thread (single writer: a load and a store, no locked instruction),
// read by the main thread. Owned by the Worker, so they outlive its loop.
struct UpstreamGauges {
  std::atomic<uint64_t> open{0};  // connecting, busy or idle
  std::atomic<uint64_t> idle{0};  // in the keep-alive pool
  static void add(std::atomic<uint64_t>& g, int64_t d) {
    single_writer_add(g, static_cast<uint64_t>(d));
  }
};
struct Snapshot;

class Upstream {
 public:
  Upstream(Worker& w, uint32_t pool, uint32_t server, uint64_t generation);
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Starts connecting; owner->on_upstream_connected() follows, possibly
  // before this returns when the connect fails at once.
  void connect(Exchange* owner, const sockaddr_storage& sa, uint64_t timeout_ms);
  void attach(Exchange* owner);  // take from idle
  void write(const uv_buf_t* bufs, unsigned n);
  void read_start();
  void read_stop();
  // The response is complete: reading goes on (no epoll change per request),
  // but anything more the server sends before release() is junk that makes
  // the connection unfit for reuse; it lands in a scratch buffer, never in
  // in() whose bytes a client write may still be sending.
  void response_complete() { complete_ = true; }
  void arm_timeout(uint64_t ms);
  void close();  // deletes itself once libuv is done with the handles

  Buffer& in() { return in_; }
  // As Downstream::release_in, to the worker's upstream pool.
  void release_in();
  http::Parser& parser() { return parser_; }
  uint32_t pool() const { return pool_; }
  uint32_t server() const { return server_; }
  uint64_t generation() const { return generation_; }
  bool reused() const { return reused_; }
  bool got_bytes() const { return got_bytes_; }
  bool writing() const { return writing_; }
  bool spoiled() const { return spoiled_; }  // spoke or closed after a complete response
  // From the response's Keep-Alive: timeout=N (ms), or 0.
  uint64_t server_keepalive_ms = 0;

 private:
  friend class UpstreamPool;
  ~Upstream();
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(void* self);
  static void on_closed(uv_handle_t* h);
  void go_idle(uint64_t idle_ms);

  Worker& w_;
  Exchange* owner_ = nullptr;
  uint32_t pool_;
  uint32_t server_;
  uint64_t generation_;
  uv_tcp_t tcp_{};
  Timeout timeout_{&Upstream::on_timer, this};
  uv_connect_t creq_{};
  uv_write_t wreq_{};
  Buffer in_;
  http::Parser parser_{http::Parser::Kind::Response};
  bool connected_ = false;
  bool reused_ = false;
  bool got_bytes_ = false;
  bool writing_ = false;
  bool reading_ = false;
  bool idle_ = false;
  bool complete_ = false;
  bool spoiled_ = false;
  bool closing_ = false;
};

class UpstreamPool {
 public:
  explicit UpstreamPool(Worker& w);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Round-robin choice among `n` servers of a pool, skipping `avoid` when possible.
  uint32_t next_server(uint32_t pool, uint32_t n, int avoid = -1);
  // An idle connection to that server from the current generation, or null.
  Upstream* take_idle(uint64_t generation, uint32_t pool, uint32_t server);
  // A new, unconnected Upstream (the caller calls connect()).
  Upstream* create(uint64_t generation, uint32_t pool, uint32_t server);
  // Done with a connection. Keeps it when reusable and there is room.
  void release(Upstream* u, bool reusable);
  uint64_t generation() const { return generation_; }
  void on_snapshot(const Snapshot& s);
  void close_all();

 private:
  friend class Upstream;
  void forget_idle(Upstream* u);
  void close_idle();

  Worker& w_;
  uint64_t generation_ = 0;
  std::vector<std::vector<std::vector<Upstream*>>> idle_;  // [pool][server] -> LIFO
  std::vector<uint32_t> rr_;
  bool closed_ = false;
};

}  // namespace sluice
