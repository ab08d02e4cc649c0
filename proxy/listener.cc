#include "proxy/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/downstream.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace sluice {

int open_listen_socket(const config::Listener& l, std::string* error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (l.addr.ipv6 || l.addr.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(l.addr.port);
    if (inet_pton(AF_INET6, l.addr.host.c_str(), &a->sin6_addr) != 1) {
      *error = "listen " + l.listen + ": not an IPv6 address";
      return -1;
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(l.addr.port);
    if (inet_pton(AF_INET, l.addr.host.c_str(), &a->sin_addr) != 1) {
      *error = "listen " + l.listen + ": not an IPv4 address";
      return -1;
    }
    len = sizeof(sockaddr_in);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "listen " + l.listen + ": socket: " + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 4096) != 0) {
    *error = "listen " + l.listen + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

Listener::Listener(Worker& w, int fd, config::Listener cfg)
    : w_(w), fd_(fd), cfg_(std::move(cfg)) {
  uv_poll_init_socket(w_.loop(), &poll_, fd_);
  poll_.data = this;
  handle_open_ = true;
}

Listener::~Listener() {
  // The worker closes every handle before its loop ends; nothing to do here
  // but make sure the fd does not leak if close() was never reached.
  if (!closed_ && fd_ >= 0) ::close(fd_);
}

void Listener::start() { resume(); }

void Listener::pause() {
  if (!polling_ || closed_) return;
  uv_poll_stop(&poll_);
  polling_ = false;
}

void Listener::resume() {
  if (polling_ || closed_) return;
  uv_poll_start(&poll_, UV_READABLE, &Listener::on_readable);
  polling_ = true;
}

void Listener::close() {
  if (closed_) return;
  closed_ = true;
  polling_ = false;
  if (handle_open_) {
    handle_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &Listener::on_closed);
  }
  ::close(fd_);  // after uv_close: libuv stops watching it in the same call
  fd_ = -1;
}

void Listener::on_closed(uv_handle_t*) {}

void Listener::on_readable(uv_poll_t* p, int status, int) {
  auto* self = static_cast<Listener*>(p->data);
  if (status < 0) return;
  self->accept_batch();
}

void Listener::accept_batch() {
  Server& srv = w_.server();
  // A bounded batch keeps one busy listener from starving the loop's other work.
  for (int i = 0; i < 64 && !closed_; ++i) {
    if (srv.active_connections() >= srv.max_connections()) {
      w_.pause_accepting();
      return;
    }
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &plen,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        observe::Event("error", "accept_failed").str("reason", std::strerror(errno));
        w_.pause_accepting();
      }
      return;  // EAGAIN: drained
    }
    Downstream::accept(w_, fd, *this, peer);
  }
}

}  // namespace sluice
