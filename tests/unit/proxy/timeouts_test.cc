// The per-worker timeouts on a real libuv loop: deadline order across and
// within durations, re-arming and disarming, callbacks that arm more, long
// timeouts past the capped sleep, and that nothing keeps the loop awake once
// every timeout has fired.
#include "proxy/timeouts.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice {
namespace {

struct Loop {
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop), 0);
  }
  uv_loop_t loop{};
};

// One timeout that records its name and the loop time when it fired.
struct Probe {
  Probe(std::string n, std::vector<std::string>* l, uv_loop_t* lp)
      : name(std::move(n)), log(l), loop(lp) {}
  static void fire(void* arg) {
    auto* p = static_cast<Probe*>(arg);
    p->fired_at = uv_now(p->loop);
    p->log->push_back(p->name);
    if (p->then) p->then(*p);
  }
  std::string name;
  std::vector<std::string>* log;
  uv_loop_t* loop;
  uint64_t fired_at = 0;
  std::function<void(Probe&)> then;
  Timeout t{&Probe::fire, this};
};

// Runs the loop until every timeout has fired (the timer must stop itself),
// then closes the handle.
void run_and_close(Loop& l, Timeouts& to) {
  uv_run(&l.loop, UV_RUN_DEFAULT);
  uv_close(to.handle(), nullptr);
}

TEST(Timeouts, FireInDeadlineOrderAcrossDurations) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  Probe a("a", &log, &l.loop), b("b", &log, &l.loop), c("c", &log, &l.loop);
  uint64_t t0 = uv_now(&l.loop);
  to.arm(a.t, 60);
  to.arm(b.t, 10);
  to.arm(c.t, 30);
  run_and_close(l, to);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "c", "a"}));
  // Never before the deadline.
  EXPECT_GE(b.fired_at, t0 + 10);
  EXPECT_GE(c.fired_at, t0 + 30);
  EXPECT_GE(a.fired_at, t0 + 60);
  EXPECT_FALSE(a.t.armed());
}

TEST(Timeouts, ReArmMovesToTheBackAndDisarmCancels) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  Probe x("x", &log, &l.loop), y("y", &log, &l.loop), z("z", &log, &l.loop);
  to.arm(x.t, 20);
  to.arm(y.t, 20);
  to.arm(z.t, 20);
  to.arm(x.t, 20);  // re-armed: now after y in the same list
  Timeouts::disarm(z.t);
  Timeouts::disarm(z.t);  // twice is harmless
  EXPECT_FALSE(z.t.armed());
  run_and_close(l, to);
  EXPECT_EQ(log, (std::vector<std::string>{"y", "x"}));
}

TEST(Timeouts, AnEarlierDeadlineWakesTheTimerSooner) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  Probe late("late", &log, &l.loop), soon("soon", &log, &l.loop);
  to.arm(late.t, 300);
  to.arm(soon.t, 5);  // the timer sleeps towards 300: must be brought forward
  run_and_close(l, to);
  EXPECT_EQ(log, (std::vector<std::string>{"soon", "late"}));
  EXPECT_LT(soon.fired_at, late.fired_at);
}

TEST(Timeouts, CallbacksMayArmAgainWithNewDurations) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  Probe p("p", &log, &l.loop), q("q", &log, &l.loop);
  int rounds = 0;
  p.then = [&](Probe& self) {
    if (++rounds < 3) to.arm(self.t, 7 + static_cast<uint64_t>(rounds));  // a new list each time
    if (rounds == 1) to.arm(q.t, 1);
  };
  to.arm(p.t, 5);
  run_and_close(l, to);
  EXPECT_EQ(log, (std::vector<std::string>{"p", "q", "p", "p"}));
  EXPECT_EQ(rounds, 3);
}

TEST(Timeouts, LongerThanTheCappedSleepStillFiresOnTime) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  Probe p("p", &log, &l.loop);
  uint64_t t0 = uv_now(&l.loop);
  to.arm(p.t, Timeouts::kMaxSleepMs + 150);
  run_and_close(l, to);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_GE(p.fired_at, t0 + Timeouts::kMaxSleepMs + 150);
}

TEST(Timeouts, EmptyListsOfOldDurationsArePruned) {
  Loop l;
  Timeouts to(&l.loop);
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < 20; ++i) {
    probes.push_back(std::make_unique<Probe>(std::to_string(i), &log, &l.loop));
    to.arm(probes.back()->t, static_cast<uint64_t>(1 + i));
  }
  EXPECT_EQ(to.lists(), 20u);
  run_and_close(l, to);
  EXPECT_EQ(log.size(), 20u);
  EXPECT_LE(to.lists(), 8u);
}

TEST(Timeouts, DestroyedWithArmedTimeoutsLeavesThemUnlinked) {
  Loop l;
  Probe p("p", nullptr, &l.loop);
  {
    Timeouts to(&l.loop);
    to.arm(p.t, 50);
    EXPECT_TRUE(p.t.armed());
    uv_close(to.handle(), nullptr);
    uv_run(&l.loop, UV_RUN_DEFAULT);  // the close completes; nothing fires
  }
  EXPECT_FALSE(p.t.armed());
}

}  // namespace
}  // namespace sluice
