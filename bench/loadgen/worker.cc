#include "bench/loadgen/worker.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "bench/loadgen/connection.h"
#include "bench/loadgen/response.h"
#include "bench/loadgen/tls_client.h"

namespace sluice::bench {

namespace {
constexpr size_t kReadBuffer = 64 * 1024;
constexpr size_t kPlaintextBuffer = 16 * 1024;

// Requests of the whole run that go to worker `index` of `workers` when they
// are dealt out round-robin: j = index, index + workers, ... < total.
uint64_t share(uint64_t total, unsigned index, unsigned workers) {
  return total > index ? (total - index + workers - 1) / workers : 0;
}
}  // namespace

uint64_t due_offset_ns(uint64_t j, double rate) {
  // long double: j / rate in nanoseconds stays exact to well under a
  // nanosecond for any run that fits in a day.
  return static_cast<uint64_t>(static_cast<long double>(j) * 1e9L / static_cast<long double>(rate));
}

uint64_t requests_due_within(uint64_t duration_ns, double rate) {
  // The count of j with due_offset_ns(j) < duration: start from the real-number
  // answer and settle the rounding against the function the timetable uses.
  auto n = static_cast<uint64_t>(std::ceil(static_cast<long double>(duration_ns) * rate / 1e9L));
  while (n > 0 && due_offset_ns(n - 1, rate) >= duration_ns) --n;
  while (due_offset_ns(n, rate) < duration_ns) ++n;
  return n;
}

Plan make_plan(const Options& o, unsigned index) {
  Plan p;
  p.index = index;
  p.connections = o.connections / o.threads + (index < o.connections % o.threads ? 1 : 0);
  if (o.requests != 0) {
    p.limit = share(o.requests, index, o.threads);
  } else if (!o.closed_loop()) {
    p.limit = share(requests_due_within(o.duration_ns, o.rate), index, o.threads);
  } else {
    p.limit = UINT64_MAX;
    p.deadline_ns = o.duration_ns;
  }
  return p;
}

Worker::Worker(const Options& options, Plan plan, const std::string& request,
               const sockaddr_storage& address, std::function<void()> on_done)
    : options_(options),
      plan_(plan),
      request_(request),
      address_(address),
      on_done_(std::move(on_done)) {}

Worker::~Worker() {
  if (loop_ready_) {
    if (!ran_) {
      // Set up but never run (another worker failed to start): close what init() opened.
      uv_walk(
          &loop_,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
          },
          nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    [[maybe_unused]] int rc = uv_loop_close(&loop_);
    assert(rc == 0 && "a handle outlived the worker's run");
  }
  connections_.clear();  // their handles are closed: the loop has run to the end
  if (timer_fd_ >= 0) close(timer_fd_);
}

bool Worker::init(std::string* error) {
  if (options_.target.tls) {
    tls_ = TlsClient::create(options_, error);
    if (!tls_) return false;
  }
  int rc = uv_loop_init(&loop_);
  if (rc != 0) {
    *error = std::string("uv_loop_init: ") + uv_strerror(rc);
    return false;
  }
  loop_ready_ = true;
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) {
    *error = std::string("timerfd_create: ") + uv_strerror(uv_translate_sys_error(errno));
    return false;
  }
  uv_poll_init(&loop_, &timer_poll_, timer_fd_);
  timer_poll_.data = this;
  uv_async_init(&loop_, &stop_async_,
                [](uv_async_t* a) { static_cast<Worker*>(a->data)->on_stop_requested(); });
  stop_async_.data = this;
  read_buf_.resize(kReadBuffer);
  plain_buf_.resize(kPlaintextBuffer);
  connections_.reserve(plan_.connections);
  idle_.reserve(plan_.connections);
  for (unsigned i = 0; i < plan_.connections; ++i) {
    connections_.push_back(std::make_unique<Connection>(*this, &loop_));
    idle_.push_back(connections_.back().get());
  }
  // Hand out requests from the front of the list (idle_ is used as a stack).
  std::reverse(idle_.begin(), idle_.end());
  return true;
}

void Worker::run(uint64_t start_ns) {
  ran_ = true;
  start_ns_ = start_ns;
  deadline_ns_ = plan_.deadline_ns ? start_ns + plan_.deadline_ns : 0;
  pump();
  uv_run(&loop_, UV_RUN_DEFAULT);
  publish_progress();
  done_flag_.store(true, std::memory_order_release);
  on_done_();
}

void Worker::stop() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (!stop_closed_) uv_async_send(&stop_async_);
}

void Worker::on_stop_requested() {
  stopping_ = true;
  maybe_finish();
}

uint64_t Worker::due_ns(uint64_t k) const {
  return start_ns_ + due_offset_ns(plan_.index + k * options_.threads, options_.rate);
}

bool Worker::sending_done(uint64_t now) const {
  return stopping_ || sent_ >= plan_.limit || (deadline_ns_ != 0 && now >= deadline_ns_);
}

// Sends every request that is due while a connection is idle, then arms the
// timer for whatever comes next: the next due time, or the closed-loop deadline.
void Worker::pump() {
  if (in_pump_ || finishing_) return;
  in_pump_ = true;
  const bool open_loop = !options_.closed_loop();
  uint64_t now = uv_hrtime();
  while (!sending_done(now)) {
    uint64_t since = now;
    if (open_loop) {
      since = due_ns(sent_);
      if (since > now) break;
      if (now - since > options_.timeout_ns) {
        // Waited longer than --timeout for a connection: the client has given up on it.
        ++sent_;
        count_failure(ErrorKind::Timeout, now);
        continue;
      }
    }
    if (idle_.empty()) break;
    Connection* c = idle_.back();
    idle_.pop_back();
    ++sent_;
    ++in_flight_;
    c->start(since);
    now = uv_hrtime();
  }
  in_pump_ = false;
  if (!sending_done(now)) {
    if (open_loop && due_ns(sent_) > now)
      arm_timer(due_ns(sent_), now);
    else if (deadline_ns_ != 0)
      arm_timer(deadline_ns_, now);
  } else {
    stop_timer();
  }
  maybe_finish();
}

void Worker::arm_timer(uint64_t at_ns, uint64_t now_ns) {
  // An absolute deadline on uv_hrtime's clock; one in the past fires at once.
  // If it fires a little early, pump() finds nothing due and re-arms.
  if (at_ns <= now_ns) at_ns = now_ns + 1;
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(at_ns / 1000000000u);
  its.it_value.tv_nsec = static_cast<long>(at_ns % 1000000000u);
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_poll_))) {
    uv_poll_start(&timer_poll_, UV_READABLE, [](uv_poll_t* p, int, int) {
      auto* self = static_cast<Worker*>(p->data);
      uint64_t expirations;
      while (read(self->timer_fd_, &expirations, sizeof expirations) > 0) {
      }
      self->pump();
    });
  }
}

void Worker::stop_timer() {
  itimerspec off{};
  timerfd_settime(timer_fd_, 0, &off, nullptr);
  uv_poll_stop(&timer_poll_);
}

void Worker::on_response(const ResponseReader& r, uint64_t since_ns, uint64_t now_ns) {
  --in_flight_;
  ++stats_.responses;
  stats_.count_status(r.status());
  stats_.latency.record(now_ns > since_ns ? now_ns - since_ns : 0);
  if (r.has_header())
    stats_.pools.add(r.header_value());
  else
    stats_.pools.add_missing();
  stats_.last_done_ns = std::max(stats_.last_done_ns, now_ns);
  publish_progress();
}

void Worker::on_error(ErrorKind kind, uint64_t now_ns) {
  --in_flight_;
  count_failure(kind, now_ns);
}

void Worker::count_failure(ErrorKind kind, uint64_t now_ns) {
  stats_.count_error(kind);
  stats_.last_done_ns = std::max(stats_.last_done_ns, now_ns);
  publish_progress();
}

void Worker::on_available(Connection& c) {
  idle_.push_back(&c);
  pump();
}

void Worker::maybe_finish() {
  if (finishing_ || in_flight_ > 0 || !sending_done(uv_hrtime())) return;
  finishing_ = true;
  stop_timer();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_poll_), nullptr);
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stop_closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  }
  for (auto& c : connections_) c->shutdown();
}

}  // namespace sluice::bench
