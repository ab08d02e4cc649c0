#include "proxy/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "proxy/downstream.h"
#include "proxy/listener.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "routing/sticky.h"

namespace sluice {

namespace {

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint32_t buffer_size(const Snapshot& s) {
  // The whole request head must fit one buffer: max_header_bytes plus slack
  // for the first body bytes of the same read.
  uint32_t need = s.limits().max_header_bytes + 1024;
  return std::max<uint32_t>(16 * 1024, need);
}

constexpr uint64_t kHousekeepingMs = 1000;
// Live connections this many fewer than at the last heap trim, and a
// quarter fewer, trim the heap again (see park_idle).
constexpr size_t kTrimDrop = 64;
// Pooled objects whose texts grew past this go back smaller.
constexpr size_t kMaxKeptText = 64 * 1024;

}  // namespace

Worker::Worker(Server& server, unsigned id, std::shared_ptr<const Snapshot> snap,
               std::shared_ptr<const RouteWeights> weights, std::vector<ListenFd> fds)
    : server_(server),
      id_(id),
      snap_(std::move(snap)),
      weights_(std::move(weights)),
      fds_(std::move(fds)),
      buffers_(buffer_size(*snap_)),
      access_log_(&server.access_sink()) {
  std::random_device rd;
  for (uint64_t& r : rng_) r = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ id;
}

Worker::~Worker() = default;

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void Worker::run() {
  uv_loop_init(&loop_);
  loop_.data = this;
  uv_async_init(&loop_, &async_, &Worker::on_async);
  async_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, &Worker::on_check);
  uv_timer_init(&loop_, &resume_timer_);
  resume_timer_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  uv_idle_init(&loop_, &idle_);
  idle_.data = this;
  timeouts_ = std::make_unique<Timeouts>(&loop_);
  timeouts_->arm(housekeeping_, kHousekeepingMs);
  upstreams_ = std::make_unique<UpstreamPool>(*this);
  set_snapshot(snap_, weights_);
  for (const ListenFd& f : fds_) {
    listeners_.push_back(
        std::make_unique<Listener>(*this, f.fd, f.listener, snap_->config->listeners[f.listener]));
    listeners_.back()->start();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Everything is closed; one more turn runs the last close callbacks.
  uv_run(&loop_, UV_RUN_NOWAIT);
  access_log_.flush();
  listeners_.clear();
  upstreams_.reset();
  uv_loop_close(&loop_);
  server_.worker_exited();
}

void Worker::on_async(uv_async_t* h) {
  static_cast<Worker*>(h->data)->drain_queue();
}

void Worker::drain_queue() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    batch.swap(queue_);
  }
  for (auto& fn : batch) fn();
}

void Worker::on_check(uv_check_t* h) {
  // End of a loop iteration: write the access lines this turn produced.
  auto* self = static_cast<Worker*>(h->data);
  if (self->access_log_.pending()) self->access_log_.flush();
}

void Worker::set_snapshot(std::shared_ptr<const Snapshot> snap,
                          std::shared_ptr<const RouteWeights> weights) {
  snap_ = std::move(snap);
  upstreams_->on_snapshot(*snap_);
  weights_.reset();
  set_weights(std::move(weights));
}

void Worker::set_weights(std::shared_ptr<const RouteWeights> weights) {
  // Only routes whose weights changed restart their cursor.
  const RouteWeights* old = weights_.get();
  bool same_shape = old != nullptr && old->routes.size() == weights->routes.size() &&
                    pickers_.size() == weights->routes.size();
  if (!same_shape) {
    pickers_.clear();
    for (const auto& w : weights->routes) pickers_.emplace_back(w);
  } else {
    for (size_t r = 0; r < weights->routes.size(); ++r) {
      if (old->routes[r] != weights->routes[r]) pickers_[r].reset(weights->routes[r]);
    }
  }
  weights_ = std::move(weights);
}

int Worker::choose_slot(uint32_t route, const http::MessageHead& h, const char* base,
                        std::string_view client_ip, bool tls, std::string* set_cookie) {
  const RouteRuntime& rt = snap_->routes[route];
  const std::vector<uint32_t>& w = weights_->routes[route];
  auto slot_named = [&](std::string_view name) -> int {
    for (size_t i = 0; i < rt.pools.size(); ++i) {
      if (snap_->pools[rt.pools[i]].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  std::string_view cookie_pool;
  std::string_view sticky_key;
  for (const http::HeaderSpan& hs : h.headers) {
    std::string_view name = hs.name.view(base);
    if (!rt.force_header.empty() && http::iequals(name, rt.force_header)) {
      int s = slot_named(hs.value.view(base));
      if (s >= 0) return s;  // an operator or a test names the pool
    }
    if (rt.sticky == StickyMode::Cookie && http::classify(name) == http::Tok::Cookie) {
      std::string_view v = hs.value.view(base);
      size_t at = v.find("sluice_pool=");
      while (at != std::string_view::npos && at > 0 && v[at - 1] != ' ' && v[at - 1] != ';') {
        at = v.find("sluice_pool=", at + 1);
      }
      if (at != std::string_view::npos) {
        cookie_pool = v.substr(at + 12);
        cookie_pool = cookie_pool.substr(0, cookie_pool.find(';'));
      }
    }
    if (rt.sticky == StickyMode::Header && http::iequals(name, rt.sticky_header)) {
      sticky_key = hs.value.view(base);
    }
  }
  switch (rt.sticky) {
    case StickyMode::Cookie: {
      int s = cookie_pool.empty() ? -1 : slot_named(cookie_pool);
      if (s >= 0 && w[static_cast<size_t>(s)] > 0) return s;
      // New client, or its pool lost all weight: choose and tell it.
      int pick = pickers_[route].pick();
      if (pick >= 0 && set_cookie != nullptr) {
        *set_cookie = "Set-Cookie: sluice_pool=";
        *set_cookie += snap_->pools[rt.pools[static_cast<size_t>(pick)]].name;
        *set_cookie += "; Path=/; HttpOnly; SameSite=Lax";
        if (tls) *set_cookie += "; Secure";
        *set_cookie += "\r\n";
      }
      return pick;
    }
    case StickyMode::Ip:
      return routing::rendezvous_pick(routing::hash_key(client_ip), w, rt.pool_ids);
    case StickyMode::Header:
      if (!sticky_key.empty()) {
        return routing::rendezvous_pick(routing::hash_key(sticky_key), w, rt.pool_ids);
      }
      return pickers_[route].pick();
    case StickyMode::None:
      break;
  }
  return pickers_[route].pick();
}

void Worker::new_request_id(char out[32]) {
  // xoshiro256**: fast, per worker, no lock; ids need uniqueness, not secrecy.
  auto next = [this] {
    uint64_t result = rotl(rng_[1] * 5, 7) * 9;
    uint64_t t = rng_[1] << 17;
    rng_[2] ^= rng_[0];
    rng_[3] ^= rng_[1];
    rng_[1] ^= rng_[2];
    rng_[0] ^= rng_[3];
    rng_[2] ^= t;
    rng_[3] = rotl(rng_[3], 45);
    return result;
  };
  uint64_t a = next();
  uint64_t b = next();
  http::format_request_id(out, a, b);
}

void Worker::add_conn(Downstream* c) {
  c->set_worker_slot(conns_.size());
  conns_.push_back(c);
}

void Worker::remove_conn(Downstream* c) {
  size_t i = c->worker_slot();
  Downstream* last = conns_.back();
  conns_[i] = last;
  last->set_worker_slot(i);
  conns_.pop_back();
  if (paused_ && !draining_ && server_.active_connections() < server_.max_connections()) {
    paused_ = false;
    uv_timer_stop(&resume_timer_);
    for (auto& l : listeners_) l->resume();
  }
  if (draining_) finish_drain_if_done();
}

void Worker::pause_accepting() {
  if (paused_) return;
  paused_ = true;
  for (auto& l : listeners_) l->pause();
  // Other workers' connections may free the slot: look again shortly. This
  // timer only runs while the limit is reached.
  uv_timer_start(&resume_timer_, &Worker::on_resume_timer, 50, 50);
}

void Worker::on_resume_timer(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  if (self->draining_) return;
  if (self->server_.active_connections() < self->server_.max_connections()) {
    self->paused_ = false;
    uv_timer_stop(t);
    for (auto& l : self->listeners_) l->resume();
  }
}

RequestState* Worker::take_request() {
  if (RequestState* r = request_free_.take()) return r;
  auto* r = new RequestState;
  r->ex.s().reserve();
  return r;
}

void Worker::give_request(RequestState* r) {
  ExchangeScratch& s = r->ex.s();
  // One that grew for a huge head, or gave its texts back for a tunnel, goes
  // back to the allocator.
  if (s.up_head.capacity() > kMaxKeptText || s.resp_head.capacity() > kMaxKeptText ||
      r->out.capacity() > kMaxKeptText || s.heads_released()) {
    delete r;
    return;
  }
  r->parser.reset();
  s.clear();
  r->out.clear();
  request_free_.give(r);
}

TlsWrite* Worker::take_tls_write() {
  if (TlsWrite* t = tls_write_free_.take()) return t;
  return new TlsWrite{};
}

void Worker::give_tls_write(TlsWrite* t) {
  // One that grew for a large batch of records keeps no more than that.
  if (t->data.capacity() > kMaxKeptText) std::string().swap(t->data);
  t->data.clear();
  t->d = nullptr;
  tls_write_free_.give(t);
}

void Worker::wake_idle() {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&idle_))) {
    uv_idle_start(&idle_, &Worker::on_idle);
  }
}

void Worker::defer_pump(Downstream* d) {
  if (d->deferred()) return;
  d->set_deferred(true);
  deferred_.push_back(d);
  wake_idle();
}

int Worker::write(uv_stream_t* s, uv_write_t* req, const uv_buf_t* bufs, unsigned n, uv_write_cb cb,
                  void* owner) {
  int r = uv_try_write(s, bufs, n);
  if (r == UV_EAGAIN) r = 0;  // nothing went (or earlier writes are queued)
  if (r < 0) return r;
  auto sent = static_cast<size_t>(r);
  unsigned i = 0;
  while (i < n && sent >= bufs[i].len) sent -= bufs[i++].len;
  if (i == n) {
    written_.push_back({cb, req, owner});
    wake_idle();
    return 1;
  }
  // The rest, from where the socket stopped: uv_write copies the array.
  uv_buf_t small[16];
  std::vector<uv_buf_t> large;
  uv_buf_t* rest = small;
  if (n - i > std::size(small)) {
    large.resize(n - i);
    rest = large.data();
  }
  for (unsigned k = i; k < n; ++k) rest[k - i] = bufs[k];
  rest[0].base += sent;
  rest[0].len -= sent;
  r = uv_write(req, s, rest, n - i, cb);
  return r < 0 ? r : 0;
}

void Worker::cancel_written(void* owner) {
  if (written_.empty() && running_.empty()) return;
  std::vector<Written> due;
  for (std::vector<Written>* q : {&written_, &running_}) {
    for (Written& w : *q) {
      if (w.owner != owner) continue;
      due.push_back(w);
      w.owner = nullptr;
    }
  }
  for (const Written& w : due) w.cb(w.req, UV_ECANCELED);
}

void Worker::cancel_pump(Downstream* d) {
  d->set_deferred(false);
  auto it = std::find(deferred_.begin(), deferred_.end(), d);
  if (it != deferred_.end()) deferred_.erase(it);
}

void Worker::on_idle(uv_idle_t* h) {
  auto* self = static_cast<Worker*>(h->data);
  // Write completions first: they may free buffers the pumps want.
  self->running_.swap(self->written_);
  for (size_t i = 0; i < self->running_.size(); ++i) {
    Written w = self->running_[i];
    if (w.owner == nullptr) continue;  // cancelled
    self->running_[i].owner = nullptr;
    w.cb(w.req, 0);
  }
  self->running_.clear();
  std::vector<Downstream*> batch;
  batch.swap(self->deferred_);
  for (Downstream* d : batch) {
    if (!d->deferred()) continue;
    d->set_deferred(false);
    d->tls_pump();
  }
  if (self->trim_due_ > 0 && --self->trim_due_ == 0) malloc_trim(0);  // see park_idle
  if (self->written_.empty() && self->deferred_.empty() && self->trim_due_ == 0) uv_idle_stop(h);
}

bool ListenerPlan::changes() const {
  for (size_t i = 0; i < old_to_new.size(); ++i) {
    if (old_to_new[i] != static_cast<int>(i)) return true;
  }
  for (const auto& fds : added) {
    if (!fds.empty()) return true;
  }
  return old_to_new.size() != next.size();
}

void Worker::apply_listeners(const ListenerPlan& plan) {
  for (auto& l : listeners_) {
    if (l->closed()) continue;
    int now = l->index() < plan.old_to_new.size() ? plan.old_to_new[l->index()] : -1;
    if (now < 0) {
      l->close();  // the kernel refuses new connections; open ones go on
    } else {
      l->reconfigure(static_cast<uint32_t>(now), plan.next[now]);
    }
  }
  if (id_ >= plan.added.size()) return;
  for (const ListenFd& f : plan.added[id_]) {
    if (draining_) {
      ::close(f.fd);
      continue;
    }
    listeners_.push_back(
        std::make_unique<Listener>(*this, f.fd, f.listener, plan.next[f.listener]));
    if (!paused_) listeners_.back()->start();
  }
}

void Worker::begin_drain() {
  if (draining_) return;
  draining_ = true;
  uv_timer_stop(&resume_timer_);
  for (auto& l : listeners_) l->close();
  // Idle keep-alive clients go now; busy ones close after their response.
  parking_.close_all();
  std::vector<Downstream*> snapshot = conns_;
  for (Downstream* c : snapshot) c->on_drain();
  uint64_t ms = static_cast<uint64_t>(snap_->config->global.drain_timeout.count());
  uv_timer_start(&drain_timer_, &Worker::on_drain_timer, ms, 0);
  finish_drain_if_done();
}

void Worker::on_drain_timer(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  std::vector<Downstream*> snapshot = self->conns_;
  if (!snapshot.empty()) {
    observe::Event("warn", "drain_timeout")
        .num("worker", self->id_)
        .num("closed_connections", static_cast<int64_t>(snapshot.size()));
  }
  for (Downstream* c : snapshot) c->abort();
  self->close_everything();
}

uint32_t Worker::listener_slot(const Listener& l) const {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i].get() == &l) return static_cast<uint32_t>(i);
  }
  return 0;  // unreachable: a connection's listener is one of ours
}

void Worker::park_idle() {
  if (draining_) return;
  parking_.expire(now_ms());
  // By index: a parked connection leaves conns_ only from its close
  // callback, on the loop's next turn.
  size_t parked = 0;
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i]->park_if_quiet()) ++parked;
  }
  // The freed connections are scattered through the heap, where malloc
  // keeps their pages: when the live ones fell well below their level at
  // the last trim (a burst went idle), give the whole free pages back
  // (HAProxy's pool trimming makes the same call). Not while clients come
  // and go at a steady level: their next connections would fault the pages
  // in again. Once a second at most, never per request.
  size_t live = conns_.size() - parked;
  trim_level_ = std::max(trim_level_, conns_.size());
  if (trim_level_ - live >= kTrimDrop && trim_level_ - live >= trim_level_ / 4) {
    // After the close callbacks have freed them: on the idle phase of the
    // loop's next turn (this turn's may still be ahead).
    trim_due_ = 2;
    wake_idle();
    trim_level_ = live;
  }
  if (conns_.capacity() > 1024 && conns_.capacity() > 4 * conns_.size()) conns_.shrink_to_fit();
}

void Worker::on_housekeeping(void* arg) {
  auto* self = static_cast<Worker*>(arg);
  self->park_idle();
  self->buffers_.trim();
  self->upstream_buffers_.trim();
  if (!self->closing_) self->timeouts_->arm(self->housekeeping_, kHousekeepingMs);
}

void Worker::finish_drain_if_done() {
  if (conns_.empty()) close_everything();
}

void Worker::close_everything() {
  if (closing_) return;
  closing_ = true;
  Timeouts::disarm(housekeeping_);
  upstreams_->close_all();
  parking_.close_handle();
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&async_), reinterpret_cast<uv_handle_t*>(&check_),
        reinterpret_cast<uv_handle_t*>(&resume_timer_),
        reinterpret_cast<uv_handle_t*>(&drain_timer_), reinterpret_cast<uv_handle_t*>(&idle_),
        timeouts_->handle()}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

}  // namespace sluice
