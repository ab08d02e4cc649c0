#include "proxy/upstream.h"

#include <algorithm>

#include "proxy/exchange.h"
#include "proxy/snapshot.h"
#include "proxy/worker.h"

namespace sluice {

namespace {
// Idle connections read into this: any byte or EOF there means "retire it".
thread_local char g_idle_scratch[64];
constexpr uint64_t kDefaultIdleMs = 60000;
}  // namespace

Upstream::Upstream(Worker& w, uint32_t pool, uint32_t server, uint64_t generation)
    : w_(w), pool_(pool), server_(server), generation_(generation) {
  uv_tcp_init(w_.loop(), &tcp_);
  tcp_.data = this;
  UpstreamGauges::add(w_.upstream_gauges().open, 1);
}

Upstream::~Upstream() {
  Timeouts::disarm(timeout_);
  release_in();
  UpstreamGauges::add(w_.upstream_gauges().open, -1);
}

void Upstream::release_in() {
  w_.upstream_buffers().release(in_);
}

void Upstream::connect(Exchange* owner, const sockaddr_storage& sa, uint64_t timeout_ms) {
  owner_ = owner;
  creq_.data = this;
  uv_tcp_nodelay(&tcp_, 1);
  int r =
      uv_tcp_connect(&creq_, &tcp_, reinterpret_cast<const sockaddr*>(&sa), &Upstream::on_connect);
  if (r < 0) {
    owner->on_upstream_connected(this, r);  // the callback will not run
    return;
  }
  arm_timeout(timeout_ms);
}

void Upstream::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<Upstream*>(req->data);
  if (self->closing_ || self->owner_ == nullptr) return;
  Timeouts::disarm(self->timeout_);
  self->connected_ = status == 0;
  self->owner_->on_upstream_connected(self, status);
}

void Upstream::attach(Exchange* owner) {
  owner_ = owner;
  idle_ = false;
  complete_ = false;
  reused_ = true;
  got_bytes_ = false;
  Timeouts::disarm(timeout_);
  // Reading stays on from idle to busy: the next bytes are the response.
}

void Upstream::write(const uv_buf_t* bufs, unsigned n) {
  writing_ = true;
  wreq_.data = this;
  int r =
      w_.write(reinterpret_cast<uv_stream_t*>(&tcp_), &wreq_, bufs, n, &Upstream::on_write, this);
  if (r < 0) {
    writing_ = false;
    if (owner_ != nullptr) owner_->on_upstream_written(r);
  }
}

void Upstream::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Upstream*>(req->data);
  self->writing_ = false;
  if (self->closing_ || self->owner_ == nullptr) return;
  self->owner_->on_upstream_written(status);
}

void Upstream::read_start() {
  if (reading_ || closing_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Upstream::on_alloc,
                    &Upstream::on_read) == 0) {
    reading_ = true;
  }
}

void Upstream::read_stop() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Upstream::arm_timeout(uint64_t ms) {
  w_.timeouts().arm(timeout_, ms);
}

void Upstream::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Upstream*>(h->data);
  if (self->idle_ || self->complete_) {
    *buf = uv_buf_init(g_idle_scratch, sizeof g_idle_scratch);
    return;
  }
  Buffer& in = self->in_;
  self->w_.upstream_buffers().acquire(in);
  if (in.space() == 0) {
    // Keep the head being parsed (its spans are relative to its start), drop
    // everything consumed before it.
    http::Parser& p = self->parser_;
    uint32_t keep = in.pos;
    if (p.in_head()) keep = static_cast<uint32_t>(p.base() - in.data);
    in.compact(keep);
    if (p.in_head()) p.rebase(in.data);
  }
  *buf = uv_buf_init(in.data + in.end, in.space());
}

void Upstream::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Upstream*>(s->data);
  if (nread == 0) return;
  if (self->idle_) {
    // The server closed (or, wrongly, spoke) while idle: retire it.
    self->w_.upstreams().forget_idle(self);
    self->close();
    return;
  }
  if (self->owner_ == nullptr) return;
  if (nread == UV_ENOBUFS) {
    // The buffer is full of response bytes the client has not taken yet:
    // wait for the client (Exchange::forward_response starts reading again).
    self->read_stop();
    return;
  }
  if (self->complete_) {
    self->spoiled_ = true;  // bytes or EOF after the response: not reusable
    self->read_stop();
    return;
  }
  if (nread < 0) {
    self->read_stop();
    self->owner_->on_upstream_eof(static_cast<int>(nread));
    return;
  }
  self->got_bytes_ = true;
  self->in_.end += static_cast<uint32_t>(nread);
  self->owner_->on_upstream_data();
}

void Upstream::on_timer(void* arg) {
  auto* self = static_cast<Upstream*>(arg);
  if (self->closing_) return;
  if (self->idle_) {
    self->w_.upstreams().forget_idle(self);
    self->close();
    return;
  }
  if (self->owner_ == nullptr) return;
  if (!self->connected_) {
    self->owner_->on_upstream_connected(self, UV_ETIMEDOUT);
  } else {
    self->owner_->on_upstream_timeout();
  }
}

void Upstream::go_idle(uint64_t idle_ms) {
  owner_ = nullptr;
  idle_ = true;
  complete_ = false;
  release_in();
  parser_.resume();
  parser_.set_response_to_head(false);
  arm_timeout(idle_ms);
  read_start();  // usually on already: a close or a stray byte retires it
}

void Upstream::close() {
  if (closing_) return;
  closing_ = true;
  owner_ = nullptr;
  Timeouts::disarm(timeout_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Upstream::on_closed);
  w_.cancel_written(this);
}

void Upstream::on_closed(uv_handle_t* h) {
  auto* self = static_cast<Upstream*>(h->data);
  delete self;
}

// ---------------------------------------------------------------- pool

UpstreamPool::UpstreamPool(Worker& w) : w_(w) {}

UpstreamPool::~UpstreamPool() = default;

void UpstreamPool::on_snapshot(const Snapshot& s) {
  close_idle();
  generation_ = s.generation;
  idle_.assign(s.pools.size(), {});
  for (size_t i = 0; i < s.pools.size(); ++i) idle_[i].resize(s.pools[i].servers.size());
  rr_.assign(s.pools.size(), 0);
}

uint32_t UpstreamPool::next_server(uint32_t pool, uint32_t n, int avoid) {
  if (n <= 1 || pool >= rr_.size()) return 0;
  uint32_t s = rr_[pool]++ % n;
  if (static_cast<int>(s) == avoid) s = rr_[pool]++ % n;
  return s;
}

Upstream* UpstreamPool::take_idle(uint64_t generation, uint32_t pool, uint32_t server) {
  if (closed_ || generation != generation_) return nullptr;
  auto& list = idle_[pool][server];
  if (list.empty()) return nullptr;
  Upstream* u = list.back();
  list.pop_back();
  UpstreamGauges::add(w_.upstream_gauges().idle, -1);
  return u;
}

Upstream* UpstreamPool::create(uint64_t generation, uint32_t pool, uint32_t server) {
  return new Upstream(w_, pool, server, generation);
}

void UpstreamPool::release(Upstream* u, bool reusable) {
  const Snapshot& s = w_.snap();
  if (!reusable || u->spoiled() || closed_ || u->generation() != generation_ ||
      u->pool() >= s.pools.size()) {
    u->close();
    return;
  }
  auto& list = idle_[u->pool()][u->server()];
  if (list.size() >= s.pools[u->pool()].keepalive) {
    u->close();
    return;
  }
  // Retire before the server does: a second early for short timeouts
  // (Node's 5 s default becomes 4 s), never later than our own default.
  uint64_t idle_ms = kDefaultIdleMs;
  if (u->server_keepalive_ms > 0) {
    uint64_t k = u->server_keepalive_ms;
    idle_ms = std::min(kDefaultIdleMs, k > 2000 ? k - 1000 : k / 2);
  }
  u->go_idle(idle_ms);
  list.push_back(u);
  UpstreamGauges::add(w_.upstream_gauges().idle, 1);
}

void UpstreamPool::forget_idle(Upstream* u) {
  if (u->pool() >= idle_.size() || u->server() >= idle_[u->pool()].size()) return;
  auto& list = idle_[u->pool()][u->server()];
  auto it = std::find(list.begin(), list.end(), u);
  if (it != list.end()) {
    list.erase(it);
    UpstreamGauges::add(w_.upstream_gauges().idle, -1);
  }
}

void UpstreamPool::close_all() {
  closed_ = true;
  close_idle();
}

void UpstreamPool::close_idle() {
  for (auto& pool : idle_) {
    for (auto& server : pool) {
      for (Upstream* u : server) u->close();
      server.clear();
    }
  }
  w_.upstream_gauges().idle.store(0, std::memory_order_relaxed);
}

}  // namespace sluice
