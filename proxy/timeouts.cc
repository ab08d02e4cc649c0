#include "proxy/timeouts.h"

#include <algorithm>

namespace sluice {

namespace {
// Lists kept although empty: the durations in use come back at once.
constexpr size_t kKeepLists = 8;
}  // namespace

Timeouts::Timeouts(uv_loop_t* loop) : loop_(loop) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

Timeouts::~Timeouts() {
  // Connections are gone by now; unlink whatever a teardown left behind so
  // no Timeout points into a freed list.
  for (auto& l : lists_) {
    while (!l->empty()) disarm(*l->head.next);
  }
}

void Timeouts::disarm(Timeout& t) {
  if (t.next == nullptr) return;
  t.prev->next = t.next;
  t.next->prev = t.prev;
  t.prev = t.next = nullptr;
}

Timeouts::List& Timeouts::list_for(uint64_t ms) {
  for (auto& l : lists_) {
    if (l->duration == ms) return *l;
  }
  lists_.push_back(std::make_unique<List>(ms));
  return *lists_.back();
}

void Timeouts::arm(Timeout& t, uint64_t ms) {
  disarm(t);
  List& l = list_for(ms);
  t.at = uv_now(loop_) + ms;
  t.prev = l.head.prev;
  t.next = &l.head;
  l.head.prev->next = &t;
  l.head.prev = &t;
  if (!waiting_ || t.at < wake_at_) wake_at(t.at);
}

void Timeouts::wake_at(uint64_t at) {
  uint64_t now = uv_now(loop_);
  wake_at_ = std::min(at, now + kMaxSleepMs);
  waiting_ = true;
  uv_timer_start(&timer_, &Timeouts::on_timer, wake_at_ > now ? wake_at_ - now : 0, 0);
}

void Timeouts::on_timer(uv_timer_t* t) {
  static_cast<Timeouts*>(t->data)->expire();
}

void Timeouts::expire() {
  waiting_ = false;
  uint64_t now = uv_now(loop_);
  // By index: a callback may arm a timeout of a new duration (a new list).
  for (size_t i = 0; i < lists_.size(); ++i) {
    List& l = *lists_[i];
    while (!l.empty() && l.head.next->at <= now) {
      Timeout* t = l.head.next;
      disarm(*t);
      t->fn(t->owner);
    }
  }
  if (lists_.size() > kKeepLists) {
    lists_.erase(std::remove_if(lists_.begin(), lists_.end(),
                                [](const std::unique_ptr<List>& l) { return l->empty(); }),
                 lists_.end());
  }
  uint64_t next = UINT64_MAX;
  for (auto& l : lists_) {
    if (!l->empty()) next = std::min(next, l->head.next->at);
  }
  // A callback may have armed the timer already (waiting_ set again).
  if (next != UINT64_MAX && (!waiting_ || next < wake_at_)) wake_at(next);
}

}  // namespace sluice
