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
#include "proxy/observe/log.h"
#include "proxy/snapshot.h"
#include "routing/split.h"

namespace sluice {

class Server;
class Listener;
class Downstream;
class UpstreamPool;

struct ListenFd {
  int fd;
  uint32_t listener;  // index into config listeners
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
  BufferPool& buffers() { return buffers_; }
  // Upstream connections read response bodies in larger slices: fewer
  // read/write round trips per megabyte (nginx uses 8 x 16 KiB).
  BufferPool& upstream_buffers() { return upstream_buffers_; }
  UpstreamPool& upstreams() { return *upstreams_; }
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
  std::unique_ptr<char[]> scratch_{new char[kScratchSize]};
  std::thread thread_;

  std::mutex queue_mu_;
  std::vector<std::function<void()>> queue_;

  BufferPool buffers_;
  BufferPool upstream_buffers_{kUpstreamBufferSize};
  std::unique_ptr<UpstreamPool> upstreams_;
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
