#include "proxy/park.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

#include "proxy/downstream.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace sluice {

static_assert(sizeof(Parked) == 24, "see park.h: what an idle connection costs");

template <class Fn>
void Parking::each_used(Fn fn) {
  for (size_t s = 0; s < slabs_.size(); ++s) {
    size_t n = s + 1 == slabs_.size() ? used_in_last_ : kPerSlab;
    for (size_t k = 0; k < n; ++k) fn(slabs_[s][k]);
  }
}

Parking::~Parking() {
  each_used([](Parked& p) {
    if (p.fd >= 0) ::close(p.fd);
    delete p.tls;
  });
  for (Parked* slab : slabs_) munmap(slab, kSlabBytes);
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

Parked* Parking::take_slot() {
  if (!free_.empty()) {
    Parked* p = free_.back();
    free_.pop_back();
    return p;
  }
  if (used_in_last_ == kPerSlab) {
    void* m = mmap(nullptr, kSlabBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;  // the connection stays as it is
    slabs_.push_back(static_cast<Parked*>(m));
    used_in_last_ = 0;
  }
  return new (&slabs_.back()[used_in_last_++]) Parked();
}

void Parking::free_slot(Parked& p) {
  delete p.tls;
  p.tls = nullptr;
  p.fd = -1;
  free_.push_back(&p);
}

bool Parking::park(int fd, const Listener& l, std::unique_ptr<tls::Session>& tls,
                   uint64_t deadline) {
  Parked* p = open() ? take_slot() : nullptr;
  if (p == nullptr) {
    ::close(fd);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = p;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free_slot(*p);
    ::close(fd);
    return false;
  }
  p->fd = fd;
  p->listener = w_.listener_slot(l);
  p->tls = tls.release();
  p->deadline = deadline;
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
  for (int k = 0; k < n; ++k) self->wake(*static_cast<Parked*>(evs[k].data.ptr));
}

void Parking::wake(Parked& p) {
  if (p.fd < 0) return;
  int fd = p.fd;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  --live_;
  w_.server().parked_changed(-1);
  std::unique_ptr<tls::Session> tls(p.tls);
  p.tls = nullptr;
  Downstream::resume(w_, fd, w_.listener_at(p.listener), std::move(tls));
  free_slot(p);
}

void Parking::drop(Parked& p) {
  ::close(p.fd);  // also leaves the epoll set: the last fd of the socket
  --live_;
  Server& s = w_.server();
  s.parked_changed(-1);
  s.idle_changed(-1);
  s.connection_closed();
  free_slot(p);
}

void Parking::expire(uint64_t now) {
  if (live_ == 0) return;
  each_used([this, now](Parked& p) {
    if (p.fd >= 0 && p.deadline <= now) drop(p);
  });
}

void Parking::close_all() {
  each_used([this](Parked& p) {
    if (p.fd >= 0) drop(p);
  });
}

}  // namespace sluice
