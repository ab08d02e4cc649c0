// One worker: one thread, one libuv loop, its own listening sockets, client
// connections, upstream connection pools and timers. A connection never
// leaves its worker. Other threads talk to a worker only through post().
//
//   main thread                      worker thread
//   Server::start ── Worker::start ──> run(): uv_run(loop)
//   Server::drain ── post(drain) ────> begin_drain(): close listeners,
//                                       close idle clients, wait for the rest
//                                       (drain_timeout), close handles, exit
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "proxy/buffer.h"
#include "proxy/free_list.h"
#include "proxy/observe/log.h"
#include "proxy/park.h"
#include "proxy/snapshot.h"
#include "proxy/timeouts.h"
#include "proxy/upstream.h"
#include "routing/split.h"

namespace sluice {

class Server;
class Listener;
class Downstream;
class UpstreamPool;
struct RequestState;
struct TlsWrite;

struct ListenFd {
  int fd;
  uint32_t listener;  // index into config listeners
};

// What a reload does to the listening sockets, built by the main thread
// (which binds the new ones before anything changes) and applied by every
// worker together with the new snapshot.
struct ListenerPlan {
  std::vector<config::Listener> next;        // the new config's entries
  std::vector<int> old_to_new;               // per old entry: its new index, or -1 = removed
  std::vector<std::vector<ListenFd>> added;  // per worker: sockets of new entries
  bool changes() const;
};

class Worker {
 public:
  Worker(Server& server, unsigned id, std::shared_ptr<const Snapshot> snap,
         std::shared_ptr<const RouteWeights> weights, std::vector<ListenFd> fds);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void join();
  // Any thread: run `fn` on this worker's loop thread soon.
  void post(std::function<void()> fn);

  // ---- loop thread only ----
  uv_loop_t* loop() { return &loop_; }
  unsigned id() const { return id_; }
  Server& server() { return server_; }
  const Snapshot& snap() const { return *snap_; }
  const std::shared_ptr<const Snapshot>& snap_ptr() const { return snap_; }
  void set_snapshot(std::shared_ptr<const Snapshot> snap,
                    std::shared_ptr<const RouteWeights> weights);
  void set_weights(std::shared_ptr<const RouteWeights> weights);
  // Reload: close removed listeners (their open connections stay), update
  // kept ones, start the added ones.
  void apply_listeners(const ListenerPlan& plan);
  BufferPool& buffers() { return buffers_; }
  // Upstream connections read response bodies in larger slices: fewer
  // read/write round trips per megabyte (nginx uses 8 x 16 KiB).
  BufferPool& upstream_buffers() { return upstream_buffers_; }
  UpstreamPool& upstreams() { return *upstreams_; }
  // Any thread may read these (metrics); only this worker writes them.
  UpstreamGauges& upstream_gauges() { return upstream_gauges_; }
  observe::AccessLog& access_log() { return access_log_; }
  uint64_t now_ms() const { return uv_now(const_cast<uv_loop_t*>(&loop_)); }
  bool draining() const { return draining_; }
  // Which slot (pool position in the route's split) serves this request:
  // force header, then stickiness (cookie, header, client ip) by rendezvous
  // hashing over the current weights, else the smooth weighted cursor.
  // -1 when every weight is 0. `*set_cookie` is set when the client must be
  // told its pool (cookie mode).
  int choose_slot(uint32_t route, const http::MessageHead& h, const char* base,
                  std::string_view client_ip, bool tls, std::string* set_cookie);
  void new_request_id(char out[32]);

  void add_conn(Downstream* c);
  void remove_conn(Downstream* c);
  // The process-wide connection limit was reached: stop accepting for a while.
  void pause_accepting();

  void begin_drain();

  // A per-worker scratch buffer for reads that are copied at once (TLS ciphertext).
  static constexpr unsigned kScratchSize = 64 * 1024;
  static constexpr uint32_t kUpstreamBufferSize = 64 * 1024;
  char* scratch() { return scratch_.get(); }
  // Run d->tls_pump() on the next loop turn (not from inside the caller).
  void defer_pump(Downstream* d);
  void cancel_pump(Downstream* d);

  // Request state (see downstream.h): a free list as deep as the most
  // requests this worker had in flight at once, capped.
  RequestState* take_request();
  void give_request(RequestState* r);
  Timeouts& timeouts() { return *timeouts_; }
  // Idle keep-alive connections out of libuv (see park.h).
  Parking& parking() { return parking_; }
  // A listener's place among this worker's (stable: a listener a reload
  // removes is closed, not erased), so a parked connection keeps 4 bytes.
  uint32_t listener_slot(const Listener& l) const;
  const Listener& listener_at(uint32_t slot) const { return *listeners_[slot]; }
  // TLS record writes in flight to clients (see downstream.h), pooled alike.
  TlsWrite* take_tls_write();
  void give_tls_write(TlsWrite* t);

  // Writes try the socket at once (uv_try_write): a write that goes out whole
  // costs no write request and no epoll change. Its callback `cb(req, 0)`
  // then runs from the idle phase, as libuv runs a write callback on the next
  // turn, so no caller sees its write complete inside its own call. The rest
  // of a partial write is queued with uv_write(req, ..., cb) as usual. Either
  // way `cb` gets `req`, so req->data is the caller's. Returns 1 (sent whole,
  // cb deferred), 0 (queued) or a libuv error (nothing happens). `owner` (the
  // connection) calls cancel_written(owner) once its handle is closing:
  // callbacks still due run at once with UV_ECANCELED, as libuv does for
  // queued writes.
  int write(uv_stream_t* s, uv_write_t* req, const uv_buf_t* bufs, unsigned n, uv_write_cb cb,
            void* owner);
  void cancel_written(void* owner);

 private:
  static void on_idle(uv_idle_t* h);
  void run();
  void drain_queue();
  void finish_drain_if_done();
  void close_everything();
  static void on_async(uv_async_t* h);
  static void on_check(uv_check_t* h);
  static void on_resume_timer(uv_timer_t* t);
  static void on_drain_timer(uv_timer_t* t);

  Server& server_;
  unsigned id_;
  std::shared_ptr<const Snapshot> snap_;
  std::shared_ptr<const RouteWeights> weights_;
  std::vector<ListenFd> fds_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_check_t check_{};
  uv_timer_t resume_timer_{};
  uv_timer_t drain_timer_{};
  uv_idle_t idle_{};
  std::vector<Downstream*> deferred_;
  FreeList<RequestState> request_free_;
  FreeList<TlsWrite> tls_write_free_;
  // Once a second: buffer pools give back what the last second did not need.
  // Declared before timeouts_, which unlinks it when destroyed.
  Timeout housekeeping_{&Worker::on_housekeeping, this};
  static void on_housekeeping(void* self);
  std::unique_ptr<Timeouts> timeouts_;
  Parking parking_{*this};
  void park_idle();
  size_t trim_level_ = 0;  // live connections after the last heap trim, or their peak since
  uint8_t trim_due_ = 0;   // idle phases to go until malloc_trim (see park_idle)
  struct Written {
    uv_write_cb cb;
    uv_write_t* req;
    void* owner;  // null: done (cancelled)
  };
  std::vector<Written> written_;  // queued this turn
  std::vector<Written> running_;  // being run by on_idle
  void wake_idle();
  std::unique_ptr<char[]> scratch_{new char[kScratchSize]};
  std::thread thread_;

  std::mutex queue_mu_;
  std::vector<std::function<void()>> queue_;

  BufferPool buffers_;
  BufferPool upstream_buffers_{kUpstreamBufferSize};
  std::unique_ptr<UpstreamPool> upstreams_;
  UpstreamGauges upstream_gauges_;
  observe::AccessLog access_log_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<routing::WeightedPicker> pickers_;
  std::vector<Downstream*> conns_;  // for drain; swap-remove by index
  uint64_t rng_[4];
  bool draining_ = false;
  bool closing_ = false;
  bool paused_ = false;
};

}  // namespace sluice
