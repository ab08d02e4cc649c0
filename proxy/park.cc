#include "proxy/park.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <utility>

#include "proxy/downstream.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace sluice {

Parking::~Parking() {
  for (auto& chunk : chunks_) {
    for (uint32_t k = 0; k < kChunk; ++k) {
      Parked& p = chunk[k];
      Timeouts::disarm(p.deadline);
      if (p.fd >= 0) ::close(p.fd);
    }
  }
  if (epfd_ >= 0) ::close(epfd_);
}

bool Parking::open() {
  if (polling_) return true;
  if (handle_closed_) return false;
  if (epfd_ < 0) epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return false;
  if (uv_poll_init(w_.loop(), &poll_, epfd_) != 0) return false;
  poll_.data = this;
  if (uv_poll_start(&poll_, UV_READABLE, &Parking::on_ready) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
    handle_closed_ = true;
    return false;
  }
  polling_ = true;
  return true;
}

void Parking::close_handle() {
  if (polling_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  polling_ = false;
  handle_closed_ = true;
}

uint32_t Parking::take_slot() {
  if (free_.empty()) {
    auto base = static_cast<uint32_t>(chunks_.size() * kChunk);
    chunks_.push_back(std::make_unique<Parked[]>(kChunk));
    Parked* chunk = chunks_.back().get();
    // Reversed, so slots are taken in ascending order.
    for (uint32_t k = kChunk; k-- > 0;) {
      Parked& p = chunk[k];
      p.deadline.fn = &Parking::on_deadline;
      p.deadline.owner = &p;
      p.home = this;
      p.index = base + k;
      free_.push_back(base + k);
    }
  }
  uint32_t i = free_.back();
  free_.pop_back();
  return i;
}

void Parking::free_slot(Parked& p) {
  Timeouts::disarm(p.deadline);
  p.tls.reset();
  p.listener = nullptr;
  p.fd = -1;
  free_.push_back(p.index);
}

bool Parking::park(int fd, const Listener& l, std::unique_ptr<tls::Session>& tls, uint32_t requests,
                   Timeout& deadline) {
  if (!open()) {
    ::close(fd);
    return false;
  }
  uint32_t i = take_slot();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u32 = i;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free_.push_back(i);
    ::close(fd);
    return false;
  }
  Parked& p = at(i);
  p.fd = fd;
  p.listener = &l;
  p.tls = std::move(tls);
  p.requests = requests;
  Timeouts::transfer(deadline, p.deadline);
  ++live_;
  w_.server().parked_changed(1);
  return true;
}

void Parking::on_ready(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Parking*>(h->data);
  if (status < 0) return;
  epoll_event evs[64];
  // Level-triggered: whatever a full batch leaves is reported again on the
  // loop's next turn.
  int n = epoll_wait(self->epfd_, evs, 64, 0);
  for (int k = 0; k < n; ++k) self->wake(evs[k].data.u32);
}

void Parking::wake(uint32_t i) {
  if (i >= chunks_.size() * kChunk) return;
  Parked& p = at(i);
  if (p.fd < 0) return;
  int fd = p.fd;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  --live_;
  w_.server().parked_changed(-1);
  Downstream::resume(w_, fd, *p.listener, std::move(p.tls), p.requests, p.deadline);
  free_slot(p);
}

void Parking::drop(Parked& p, bool count) {
  ::close(p.fd);  // also leaves the epoll set: the last fd of the socket
  --live_;
  if (count) {
    Server& s = w_.server();
    s.parked_changed(-1);
    s.idle_changed(-1);
    s.connection_closed();
  }
  free_slot(p);
}

void Parking::on_deadline(void* arg) {
  // Keep-alive timeout: closed without a word, as a live idle connection is.
  auto* p = static_cast<Parked*>(arg);
  p->home->drop(*p, true);
}

void Parking::close_all() {
  for (auto& chunk : chunks_) {
    for (uint32_t k = 0; k < kChunk; ++k) {
      if (chunk[k].fd >= 0) drop(chunk[k], true);
    }
  }
}

}  // namespace sluice
