// Idle keep-alive connections, parked: what an idle client costs.
//
// Between two requests a client needs its socket, its keep-alive deadline
// and its TLS session (if any). A live Downstream holds far more (424 bytes,
// 248 of them libuv's uv_tcp_t). So when a keep-alive connection has read
// nothing for five to six seconds (see kParkAfterPasses in downstream.cc),
// the worker parks it: the socket is dup()ed out of libuv into a
// worker-owned epoll set, the handle is closed and the Downstream freed, and
// a Parked record (24 bytes) keeps the rest. The housekeeping pass closes it
// where it lies once its keep-alive deadline has passed. The epoll set is
// one more fd in the loop, polled by one uv_poll_t: when a parked socket
// turns readable (the next request, EOF or an error) it comes back as a new
// Downstream with the same session, and the loop reads it on its next turn;
// from then on client_header_timeout applies, as to any request under way.
//
// nginx does the like in spirit: an idle keep-alive connection gives its
// request memory back (ngx_http_set_keepalive) and keeps its small
// ngx_connection_t. Costs, per idle period of five seconds or more, never
// per request: parking is dup, epoll_ctl ADD, and libuv's epoll_ctl DEL and
// close; waking is epoll_wait (shared by a batch), epoll_ctl DEL,
// getpeername, and libuv's ioctl and epoll_ctl ADD.
//
// The open and idle connection counts stay with the connection: a parked one
// is counted as open and idle, and also as parked (Server::parked_changed).
//
// Thread: the owning worker's loop only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tls/session.h"

namespace sluice {

class Listener;
class Worker;

// 24 bytes: what a parked connection costs in user memory (its socket and
// its place in the epoll set are kernel memory).
struct Parked {
  tls::Session* tls = nullptr;  // owned while parked
  uint64_t deadline = 0;        // keep-alive deadline, loop milliseconds
  int fd = -1;                  // -1: a free slot
  uint32_t listener = 0;        // Worker::listener_slot()
};

class Parking {
 public:
  explicit Parking(Worker& w) : w_(w) {}
  ~Parking();  // closes whatever is still parked, without counting
  Parking(const Parking&) = delete;
  Parking& operator=(const Parking&) = delete;

  // Takes `fd` (the connection's socket, dup()ed: closed here when it cannot
  // be parked, with false returned) with the connection's TLS session and
  // keep-alive deadline. Only connections that served a request are parked.
  bool park(int fd, const Listener& l, std::unique_ptr<tls::Session>& tls, uint64_t deadline);
  // Housekeeping, once a second: parked connections past their keep-alive
  // deadline are closed without a word, as a live idle one is (so up to a
  // second after the deadline: a parked record has no timer link).
  void expire(uint64_t now);
  // Drain: a parked connection has nothing in flight, so it closes now.
  void close_all();
  // Worker shutdown: the poll handle closes with the loop's other handles.
  void close_handle();

 private:
  // Records live in their own mmap'd slabs, never in the malloc heap (a
  // burst's freed connection objects around them would keep pages
  // resident), and never move (the epoll set holds their addresses). A
  // slab's pages are touched as records are first used.
  static constexpr size_t kSlabBytes = 1u << 20;
  static constexpr size_t kPerSlab = kSlabBytes / sizeof(Parked);

  bool open();
  Parked* take_slot();
  void free_slot(Parked& p);
  void wake(Parked& p);
  void drop(Parked& p);  // closed for good; it leaves the open/idle/parked counts
  template <class Fn>
  void each_used(Fn fn);
  static void on_ready(uv_poll_t* h, int status, int events);

  Worker& w_;
  int epfd_ = -1;
  uv_poll_t poll_{};
  bool polling_ = false;
  bool handle_closed_ = false;
  std::vector<Parked*> slabs_;
  size_t used_in_last_ = kPerSlab;  // records handed out of the last slab
  std::vector<Parked*> free_;       // given back, reused most recent first
  size_t live_ = 0;
};

}  // namespace sluice
