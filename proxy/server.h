// The process: loads the snapshot, opens listening sockets, starts the
// workers, and runs the main thread's own loop for signals (drain, reload).
// The main thread never touches a connection.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "proxy/admin/server.h"
#include "proxy/config/config.h"
#include "proxy/control.h"
#include "proxy/observe/log.h"
#include "proxy/snapshot.h"

namespace sluice {

class Worker;
struct ListenerPlan;

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Config> cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs until drained. Returns the process exit code.
  int run();

  // ---- any thread ----
  uint32_t active_connections() const { return active_.load(std::memory_order_relaxed); }
  uint32_t max_connections() const { return max_connections_; }
  void connection_opened() { active_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { active_.fetch_sub(1, std::memory_order_relaxed); }
  observe::AccessSink& access_sink() { return access_sink_; }
  uint32_t idle_connections() const {
    int64_t v = idle_.load(std::memory_order_relaxed);
    return v > 0 ? static_cast<uint32_t>(v) : 0;
  }
  void idle_changed(int delta) { idle_.fetch_add(delta, std::memory_order_relaxed); }
  // Idle keep-alive connections parked by their workers (proxy/park.h); a
  // subset of the idle ones.
  uint32_t parked_connections() const {
    int64_t v = parked_.load(std::memory_order_relaxed);
    return v > 0 ? static_cast<uint32_t>(v) : 0;
  }
  void parked_changed(int delta) { parked_.fetch_add(delta, std::memory_order_relaxed); }
  // Upstream connections summed over the workers (open includes idle).
  void upstream_connections(uint64_t* open, uint64_t* idle) const;

  // ---- main thread (control plane) ----
  void publish_weights(std::shared_ptr<const RouteWeights> w);
  void publish_snapshot(std::shared_ptr<const Snapshot> s, std::shared_ptr<const RouteWeights> w);
  // Reload with a listener set: `plan` from prepare_listeners(), applied by
  // each worker in the same step as the snapshot.
  void publish_snapshot(std::shared_ptr<const Snapshot> s, std::shared_ptr<const RouteWeights> w,
                        std::shared_ptr<const ListenerPlan> plan);
  // Compares `next` with `current` (the config in service) and binds one
  // socket per worker for each new address (matched by address; settings of a
  // kept address are updated in place). Null with *error when a bind fails:
  // nothing changed then, the caller refuses the reload.
  std::shared_ptr<const ListenerPlan> prepare_listeners(const config::Config& current,
                                                        const config::Config& next,
                                                        std::string* error);
  // Called by a worker thread when its loop has ended.
  void worker_exited();

 private:
  static void on_signal(uv_signal_t* s, int signum);
  static void on_worker_exit(uv_async_t* a);
  void drain();
  bool drop_privileges(std::string* error);

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<Control> control_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<std::unique_ptr<Worker>> workers_;
  observe::AccessSink access_sink_;
  std::atomic<uint32_t> active_{0};
  std::atomic<int64_t> idle_{0};
  std::atomic<int64_t> parked_{0};
  std::atomic<unsigned> exited_{0};
  uint32_t max_connections_ = 10000;
  uv_loop_t loop_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_async_t exit_async_{};
  bool draining_ = false;
};

}  // namespace sluice
