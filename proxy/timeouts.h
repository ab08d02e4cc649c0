// Connection timeouts of one worker, on one libuv timer.
//
// A connection re-arms its timeout several times per request (header, body,
// keep-alive; upstream connect, read, idle). With a uv_timer_t each, every
// re-arm is a remove and an insert in libuv's timer heap, and every
// connection carries a 152-byte handle. Here a timeout is a 40-byte link in
// a FIFO list, one list per duration: all timeouts of one duration expire in
// the order they were armed, so a list is always sorted and arming is an
// unlink and an append. A worker sees a handful of durations (the configured
// timeouts), so it has a handful of lists.
//
// The worker's timer sleeps until the earliest head of any list, but never
// longer than kMaxSleepMs, so a timeout armed later than the one the timer
// waits for (the usual case) does not touch the libuv timer at all. A timeout
// fires within a millisecond of its deadline, as a uv_timer_t would (both run
// on the loop's cached clock).
//
// Thread: the owning worker's loop only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace sluice {

struct Timeout {
  using Fn = void (*)(void* owner);
  Timeout(Fn f, void* o) : fn(f), owner(o) {}
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  bool armed() const { return next != nullptr; }

  Timeout* prev = nullptr;
  Timeout* next = nullptr;
  uint64_t at = 0;  // deadline, loop milliseconds
  Fn fn;
  void* owner;
};

class Timeouts {
 public:
  static constexpr uint64_t kMaxSleepMs = 1000;

  explicit Timeouts(uv_loop_t* loop);
  ~Timeouts();
  Timeouts(const Timeouts&) = delete;
  Timeouts& operator=(const Timeouts&) = delete;

  // (Re)arm `t` to fire `ms` from the loop's now. Its fn(owner) runs once,
  // from the loop, unless disarmed or re-armed before.
  void arm(Timeout& t, uint64_t ms);
  static void disarm(Timeout& t);

  // The timer handle, for the worker's shutdown (closed with its other handles).
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }
  size_t lists() const { return lists_.size(); }

 private:
  struct List {
    explicit List(uint64_t d) : duration(d) { head.prev = head.next = &head; }
    uint64_t duration;
    Timeout head{nullptr, nullptr};  // sentinel of a circular list
    bool empty() const { return head.next == &head; }
  };

  List& list_for(uint64_t ms);
  void wake_at(uint64_t at);
  static void on_timer(uv_timer_t* t);
  void expire();

  uv_loop_t* loop_;
  uv_timer_t timer_{};
  uint64_t wake_at_ = 0;
  bool waiting_ = false;
  std::vector<std::unique_ptr<List>> lists_;
};

}  // namespace sluice
