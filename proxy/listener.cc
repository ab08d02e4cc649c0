#include "proxy/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/dns.h"
#include "proxy/downstream.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace sluice {

int open_listen_socket(const config::Listener& l, std::string* error) {
  const bool v6 = l.addr.ipv6 || l.addr.host.find(':') != std::string::npos;
  const int family = v6 ? AF_INET6 : AF_INET;
  dns::Address ip;
  if (!dns::parse_ip(l.addr.host, &ip) || ip.family != family) {
    *error = "listen " + l.listen + (v6 ? ": not an IPv6 address" : ": not an IPv4 address");
    return -1;
  }
  const sockaddr_storage ss = dns::to_sockaddr(ip, l.addr.port);
  const socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "listen " + l.listen + ": socket: " + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || ::listen(fd, 4096) != 0) {
    *error = "listen " + l.listen + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

Listener::Listener(Worker& w, int fd, uint32_t index, config::Listener cfg)
    : w_(w), fd_(fd), index_(index), cfg_(std::move(cfg)) {
  uv_poll_init_socket(w_.loop(), &poll_, fd_);
  poll_.data = this;
  handle_open_ = true;
}

Listener::~Listener() {
  // The worker closes every handle before its loop ends; nothing to do here
  // but make sure the fd does not leak if close() was never reached.
  if (!closed_ && fd_ >= 0) ::close(fd_);
}

void Listener::start() {
  resume();
}

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
    int fd =
        ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
