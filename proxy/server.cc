#include "proxy/server.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "proxy/listener.h"
#include "proxy/worker.h"
#include "sluice_version.h"

namespace sluice {

Server::Server(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)) {}

Server::~Server() = default;

int Server::run() {
  ::signal(SIGPIPE, SIG_IGN);
  std::string error;
  unsigned nworkers = cfg_->global.workers;
  if (nworkers == 0) nworkers = std::max(1u, std::thread::hardware_concurrency());

  uv_loop_init(&loop_);
  loop_.data = this;
  control_ = std::make_unique<Control>(*this, &loop_);
  if (!control_->init(cfg_, nworkers, &error)) {
    observe::Event("error", "config_invalid").str("message", error);
    uv_loop_close(&loop_);
    return 1;
  }
  if (!access_sink_.open(cfg_->global.access_log, &error)) {
    observe::Event("error", "access_log_failed").str("message", error);
    uv_loop_close(&loop_);
    return 1;
  }
  max_connections_ = cfg_->limits.max_connections;

  // The admin socket before the proxy ports: a second sluice on the same
  // socket must fail before it takes any traffic.
  admin_ = std::make_unique<admin::AdminServer>(&loop_, *control_);
  if (!admin_->listen_unix(cfg_->admin.socket, cfg_->admin.allow_uids, &error)) {
    observe::Event("error", "admin_socket_failed").str("message", error);
    admin_->close();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    return 1;
  }
  if (cfg_->admin.metrics_listen) {
    const config::Endpoint& ep = *cfg_->admin.metrics_listen;
    if (!admin_->listen_tcp(ep.host, ep.port, &error)) {
      observe::Event("error", "metrics_listen_failed").str("message", error);
      admin_->close();
      uv_run(&loop_, UV_RUN_NOWAIT);
      uv_loop_close(&loop_);
      return 1;
    }
  }

  // Bind everything before any thread starts: a port in use fails the start.
  std::vector<std::vector<ListenFd>> fds(nworkers);
  // Start-up failed before any worker ran: log, close what is open, exit 1.
  auto fail_start = [&](const char* event) {
    observe::Event("error", event).str("message", error);
    for (auto& v : fds) {
      for (ListenFd& f : v) ::close(f.fd);
    }
    admin_->close();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    return 1;
  };
  for (unsigned w = 0; w < nworkers; ++w) {
    for (uint32_t i = 0; i < cfg_->listeners.size(); ++i) {
      int fd = open_listen_socket(cfg_->listeners[i], &error);
      if (fd < 0) return fail_start("listen_failed");
      fds[w].push_back({fd, i});
    }
  }

  if (!cfg_->global.user.empty() && !drop_privileges(&error)) {
    return fail_start("privilege_drop_failed");
  }

  uv_async_init(&loop_, &exit_async_, &Server::on_worker_exit);
  exit_async_.data = this;
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, s);
    s->data = this;
  }
  uv_signal_start(&sigterm_, &Server::on_signal, SIGTERM);
  uv_signal_start(&sigint_, &Server::on_signal, SIGINT);
  uv_signal_start(&sighup_, &Server::on_signal, SIGHUP);

  for (unsigned w = 0; w < nworkers; ++w) {
    workers_.push_back(std::make_unique<Worker>(*this, w, control_->snapshot(), control_->weights(),
                                                std::move(fds[w])));
  }
  for (auto& w : workers_) w->start();
  control_->start();

  {
    observe::Event ev("info", "started");
    ev.str("version", SLUICE_VERSION).num("pid", getpid()).num("workers", nworkers);
    std::string listens;
    for (const auto& l : cfg_->listeners) {
      if (!listens.empty()) listens += ",";
      listens += l.listen;
    }
    ev.str("listen", listens);
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& w : workers_) w->join();
  uv_loop_close(&loop_);
  observe::Event("info", "stopped");
  return 0;
}

// global.user: every port and the admin socket are bound; from here on the
// process runs as that user. The state directory and the admin socket are
// handed to it first so it can persist weights and clean up on exit.
bool Server::drop_privileges(std::string* error) {
  const std::string& name = cfg_->global.user;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    *error = "global.user: no user named \"" + name + "\"";
    return false;
  }
  uid_t uid = pw.pw_uid;
  gid_t gid = pw.pw_gid;
  if (geteuid() != 0) {
    if (geteuid() == uid) return true;  // already that user
    *error = "global.user: running as uid " + std::to_string(geteuid()) + ", cannot become \"" +
             name + "\" (start as root, or as that user)";
    return false;
  }
  ::mkdir(cfg_->global.state_dir.c_str(), 0750);
  if (::chown(cfg_->global.state_dir.c_str(), uid, gid) != 0 && errno != ENOENT) {
    *error = "global.user: chown " + cfg_->global.state_dir + ": " + std::strerror(errno);
    return false;
  }
  if (::chown(cfg_->admin.socket.c_str(), uid, gid) != 0) {
    *error = "global.user: chown " + cfg_->admin.socket + ": " + std::strerror(errno);
    return false;
  }
  if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
    *error = "global.user: cannot switch to \"" + name + "\": " + std::strerror(errno);
    return false;
  }
  // Verify: the ids changed, and root cannot be taken back.
  if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
      ::setuid(0) == 0) {
    *error = "global.user: privileges were not dropped";
    return false;
  }
  observe::Event("info", "privileges_dropped")
      .str("user", name)
      .num("uid", static_cast<int64_t>(uid))
      .num("gid", static_cast<int64_t>(gid));
  return true;
}

void Server::on_signal(uv_signal_t* s, int signum) {
  auto* self = static_cast<Server*>(s->data);
  if (signum == SIGHUP) {
    if (self->draining_) return;
    std::string errors;
    if (!self->control_->reload(false, &errors)) {
      observe::Event("error", "reload_failed").str("errors", errors);
    }
  } else {
    self->drain();
  }
}

void Server::drain() {
  if (draining_) return;
  draining_ = true;
  control_->begin_drain();
  observe::Event("info", "draining")
      .num("drain_timeout_ms", static_cast<int64_t>(cfg_->global.drain_timeout.count()))
      .num("active_connections", active_connections());
  for (auto& w : workers_) {
    Worker* wp = w.get();
    wp->post([wp] { wp->begin_drain(); });
  }
}

void Server::publish_weights(std::shared_ptr<const RouteWeights> w) {
  for (auto& wk : workers_) {
    Worker* wp = wk.get();
    wp->post([wp, w] { wp->set_weights(w); });
  }
}

void Server::publish_snapshot(std::shared_ptr<const Snapshot> s,
                              std::shared_ptr<const RouteWeights> w) {
  for (auto& wk : workers_) {
    Worker* wp = wk.get();
    wp->post([wp, s, w] { wp->set_snapshot(s, w); });
  }
}

void Server::publish_snapshot(std::shared_ptr<const Snapshot> s,
                              std::shared_ptr<const RouteWeights> w,
                              std::shared_ptr<const ListenerPlan> plan) {
  for (auto& wk : workers_) {
    Worker* wp = wk.get();
    wp->post([wp, s, w, plan] {
      wp->apply_listeners(*plan);
      wp->set_snapshot(s, w);
    });
  }
}

std::shared_ptr<const ListenerPlan> Server::prepare_listeners(const config::Config& current,
                                                              const config::Config& next,
                                                              std::string* error) {
  const std::vector<config::Listener>& now = current.listeners;
  auto plan = std::make_shared<ListenerPlan>();
  plan->next = next.listeners;
  plan->old_to_new.assign(now.size(), -1);
  plan->added.resize(workers_.size());
  auto same_addr = [](const config::Listener& a, const config::Listener& b) {
    return a.addr.host == b.addr.host && a.addr.port == b.addr.port;
  };
  for (uint32_t ni = 0; ni < next.listeners.size(); ++ni) {
    const config::Listener& l = next.listeners[ni];
    bool kept = false;
    for (size_t oi = 0; oi < now.size() && !kept; ++oi) {
      if (plan->old_to_new[oi] < 0 && same_addr(now[oi], l)) {
        plan->old_to_new[oi] = static_cast<int>(ni);
        kept = true;
      }
    }
    if (kept) continue;
    for (auto& fds : plan->added) {
      int fd = open_listen_socket(l, error);
      if (fd < 0) {
        for (auto& v : plan->added) {
          for (ListenFd& f : v) ::close(f.fd);
        }
        return nullptr;
      }
      fds.push_back({fd, ni});
    }
  }
  return plan;
}

void Server::upstream_connections(uint64_t* open, uint64_t* idle) const {
  *open = 0;
  *idle = 0;
  for (const auto& w : workers_) {
    UpstreamGauges& g = w->upstream_gauges();
    *open += g.open.load(std::memory_order_relaxed);
    *idle += g.idle.load(std::memory_order_relaxed);
  }
}

void Server::worker_exited() {
  exited_.fetch_add(1);
  uv_async_send(&exit_async_);
}

void Server::on_worker_exit(uv_async_t* a) {
  auto* self = static_cast<Server*>(a->data);
  if (self->exited_.load() < self->workers_.size()) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&self->exit_async_), nullptr);
  self->control_->stop();
  self->admin_->close();
  for (uv_signal_t* s : {&self->sigterm_, &self->sigint_, &self->sighup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
}

}  // namespace sluice
