// Idle keep-alive connections, parked: what an idle client costs.
//
// Between two requests a client needs its socket, its keep-alive deadline,
// its TLS session (if any) and its request count. A live Downstream holds
// far more (424 bytes, 248 of them libuv's uv_tcp_t). So when a keep-alive
// connection has been idle through a whole housekeeping second, the worker
// parks it: the socket is dup()ed out of libuv into a worker-owned epoll
// set, the handle is closed and the Downstream freed, and a Parked record
// (80 bytes) keeps the rest. The keep-alive deadline keeps its place in the
// worker's Timeouts (Timeouts::transfer) and closes the connection where it
// lies if nothing comes. The epoll set is one more fd in the loop, polled
// by one uv_poll_t: when a parked socket turns readable (the next request,
// EOF or an error) it comes back as a new Downstream with the same session,
// count and deadline, and the loop reads it on its next turn.
//
// nginx does the like in spirit: an idle keep-alive connection gives its
// request memory back (ngx_http_set_keepalive) and keeps its small
// ngx_connection_t. Costs, per idle period of a second or more, never per
// request: parking is dup, epoll_ctl ADD, and libuv's epoll_ctl DEL and
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

#include "proxy/timeouts.h"
#include "tls/session.h"

namespace sluice {

class Listener;
class Parking;
class Worker;

struct Parked {
  Timeout deadline{nullptr, nullptr};  // the keep-alive deadline
  std::unique_ptr<tls::Session> tls;
  const Listener* listener = nullptr;
  Parking* home = nullptr;
  int fd = -1;  // -1: a free slot
  uint32_t requests = 0;
  uint32_t index = 0;
};

class Parking {
 public:
  explicit Parking(Worker& w) : w_(w) {}
  ~Parking();  // closes whatever is still parked, without counting
  Parking(const Parking&) = delete;
  Parking& operator=(const Parking&) = delete;

  // Takes `fd` (the connection's socket, dup()ed: closed here when it cannot
  // be parked, with false returned) with the connection's TLS session and
  // request count; the armed `deadline` moves into the record.
  bool park(int fd, const Listener& l, std::unique_ptr<tls::Session>& tls, uint32_t requests,
            Timeout& deadline);
  // Drain: a parked connection has nothing in flight, so it closes now.
  void close_all();
  // Worker shutdown: the poll handle closes with the loop's other handles.
  void close_handle();
  size_t size() const { return live_; }

 private:
  static constexpr uint32_t kChunk = 128;

  bool open();
  Parked& at(uint32_t i) { return chunks_[i / kChunk][i % kChunk]; }
  uint32_t take_slot();
  void free_slot(Parked& p);
  void wake(uint32_t i);
  void drop(Parked& p, bool count);
  static void on_ready(uv_poll_t* h, int status, int events);
  static void on_deadline(void* p);

  Worker& w_;
  int epfd_ = -1;
  uv_poll_t poll_{};
  bool polling_ = false;
  bool handle_closed_ = false;
  // Records in chunks (a record never moves: its deadline is linked into
  // the worker's Timeouts), free slots reused most recent first.
  std::vector<std::unique_ptr<Parked[]>> chunks_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace sluice
