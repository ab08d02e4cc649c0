// Listening sockets. The main thread creates one SO_REUSEPORT socket per
// worker per [[listener]] (so bind errors surface before any thread starts,
// and binding happens before privileges are dropped); each worker polls its
// own sockets and accepts with accept4(2) in a bounded batch. The kernel
// spreads connections over the sockets: no accept lock, no thundering herd.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "proxy/config/config.h"

namespace sluice {

class Worker;

// Returns the fd, or -1 with *error set ("listen 127.0.0.1:80: Address in use").
int open_listen_socket(const config::Listener& l, std::string* error);

class Listener {
 public:
  // `cfg`: the [[listener]] entry this socket serves, at `index` in the
  // config's list (a copy: it outlives reloads that drop the entry, for the
  // connections still open on it).
  Listener(Worker& w, int fd, uint32_t index, config::Listener cfg);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  void start();
  void pause();
  void resume();
  void close();  // stop polling and close the socket: new connections are refused
  bool closed() const { return closed_; }
  // The entry's settings (tls, redirect_https, ...) and position in the
  // config as of the latest reload.
  const config::Listener& config() const { return cfg_; }
  uint32_t index() const { return index_; }
  void reconfigure(uint32_t index, config::Listener cfg) {
    index_ = index;
    cfg_ = std::move(cfg);
  }

 private:
  static void on_readable(uv_poll_t* p, int status, int events);
  static void on_closed(uv_handle_t* h);
  void accept_batch();

  Worker& w_;
  int fd_;
  uint32_t index_;
  config::Listener cfg_;
  uv_poll_t poll_{};
  bool polling_ = false;
  bool closed_ = false;
  bool handle_open_ = false;
};

}  // namespace sluice
