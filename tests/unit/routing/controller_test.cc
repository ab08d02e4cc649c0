#include "routing/controller.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RoutePolicy canary_policy() {
  RoutePolicy p;
  p.weights = {95, 5};  // slot 0 blue (baseline), slot 1 canary
  p.baseline = 0;
  p.error_rate = 0.05;
  p.min_requests = 20;
  return p;
}

RoutePolicy rollout_policy() {
  RoutePolicy p = canary_policy();
  p.rollout = RolloutPolicy{{1, 5, 25, 50, 100}, milliseconds(60000)};
  return p;
}

WindowStats stats(uint64_t requests, uint64_t errors, std::optional<Micros> p99 = std::nullopt) {
  return WindowStats{requests, errors, p99};
}

const WallTime kT0 = wall_ms(1700000000000);

TEST(Judge, BelowMinRequestsIsInconclusive) {
  auto p = canary_policy();
  EXPECT_EQ(judge(p, stats(19, 19)).verdict, Verdict::kInconclusive);
  EXPECT_EQ(judge(p, stats(0, 0)).verdict, Verdict::kInconclusive);
  p.min_requests = 0;
  EXPECT_EQ(judge(p, stats(0, 0)).verdict, Verdict::kInconclusive);  // no data is never a verdict
}

TEST(Judge, ExactThresholdIsNotAFailure) {
  auto p = canary_policy();
  auto v = judge(p, stats(20, 1));  // 1/20 == 0.05
  EXPECT_EQ(v.verdict, Verdict::kHealthy);
  EXPECT_DOUBLE_EQ(v.error_rate, 0.05);
  EXPECT_EQ(judge(p, stats(100, 5)).verdict, Verdict::kHealthy);
  EXPECT_EQ(judge(p, stats(2000, 100)).verdict, Verdict::kHealthy);
  auto f = judge(p, stats(20, 2));
  EXPECT_EQ(f.verdict, Verdict::kFailed);
  EXPECT_EQ(f.reason, Reason::kErrorRate);
  EXPECT_EQ(judge(p, stats(2000, 101)).verdict, Verdict::kFailed);
  EXPECT_EQ(judge(p, stats(20, 0)).verdict, Verdict::kHealthy);
}

TEST(Judge, P99Threshold) {
  auto p = canary_policy();
  EXPECT_EQ(judge(p, stats(50, 0, Micros{5000000})).verdict, Verdict::kHealthy);  // no p99 policy
  p.p99_latency = milliseconds(800);
  EXPECT_EQ(judge(p, stats(50, 0, Micros{800000})).verdict, Verdict::kHealthy);  // == is fine
  auto v = judge(p, stats(50, 0, Micros{800001}));
  EXPECT_EQ(v.verdict, Verdict::kFailed);
  EXPECT_EQ(v.reason, Reason::kP99Latency);
  EXPECT_EQ(judge(p, stats(50, 0)).verdict, Verdict::kHealthy);  // no samples
  EXPECT_EQ(judge(p, stats(50, 10, Micros{900000})).reason,
            Reason::kErrorRate);  // both: error rate first
  EXPECT_EQ(judge(p, stats(10, 0, Micros{900000})).verdict, Verdict::kInconclusive);
}

TEST(Controller, InitialStateIsConfiguredWeights) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{95, 5}));
  EXPECT_FALSE(s.operator_set);
  EXPECT_TRUE(s.rollbacks.empty());
  EXPECT_FALSE(s.rollout.has_value());
}

TEST(Controller, FailedCanaryRollsBackToBaselineAndStays) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> w{stats(1000, 3), stats(42, 13, Micros{12500})};
  auto ev = evaluate(p, s, w, kT0 + seconds(5));
  EXPECT_TRUE(ev.weights_changed);
  ASSERT_EQ(ev.new_rollbacks.size(), 1u);
  const auto& r = ev.new_rollbacks[0];
  EXPECT_EQ(r.pool, 1u);
  EXPECT_EQ(r.reason, Reason::kErrorRate);
  EXPECT_NEAR(r.observed_rate, 13.0 / 42, 1e-12);
  EXPECT_EQ(r.requests, 42u);
  EXPECT_EQ(r.observed_p99, Micros{12500});
  EXPECT_EQ(r.weight_moved, 5u);
  EXPECT_EQ(r.at, kT0 + seconds(5));
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
  EXPECT_TRUE(s.rolled_back(1));
  ASSERT_EQ(ev.pools.size(), 2u);
  EXPECT_EQ(ev.pools[0].verdict, Verdict::kHealthy);
  EXPECT_EQ(ev.pools[1].verdict, Verdict::kFailed);

  // Still failing (forced traffic), then healthy: nothing changes, no new events.
  for (auto later : {stats(42, 13), stats(500, 0), stats(0, 0)}) {
    std::vector<WindowStats> w2{stats(1000, 0), later};
    auto ev2 = evaluate(p, s, w2, kT0 + seconds(60));
    EXPECT_FALSE(ev2.weights_changed);
    EXPECT_TRUE(ev2.new_rollbacks.empty());
    EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
    EXPECT_EQ(s.rollbacks.size(), 1u);
  }

  // Only an operator brings it back.
  std::vector<uint32_t> again{90, 10};
  ASSERT_TRUE(set_weights(p, s, again));
  EXPECT_EQ(s.weights, again);
  EXPECT_TRUE(s.operator_set);
  EXPECT_TRUE(s.rollbacks.empty());
  auto ev3 = evaluate(p, s, w, kT0 + seconds(120));
  ASSERT_EQ(ev3.new_rollbacks.size(), 1u);
  EXPECT_EQ(ev3.new_rollbacks[0].weight_moved, 10u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
}

TEST(Controller, HealthyOrInconclusiveCanaryKeepsWeights) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  for (auto c : {stats(19, 19), stats(20, 1), stats(1000, 50), stats(0, 0)}) {
    std::vector<WindowStats> w{stats(1000, 0), c};
    auto ev = evaluate(p, s, w, kT0);
    EXPECT_FALSE(ev.weights_changed);
    EXPECT_EQ(s.weights, (std::vector<uint32_t>{95, 5}));
  }
}

TEST(Controller, FailedBaselineIsReportedNotRolledBack) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> w{stats(1000, 900), stats(50, 0)};
  auto ev = evaluate(p, s, w, kT0);
  EXPECT_EQ(ev.pools[0].verdict, Verdict::kFailed);
  EXPECT_TRUE(ev.new_rollbacks.empty());
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{95, 5}));
}

TEST(Controller, ThreePoolsOnlyTheFailedOneMoves) {
  RoutePolicy p;
  p.weights = {10, 80, 10};  // green, blue (baseline), canary
  p.baseline = 1;
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> w{stats(100, 1), stats(800, 0), stats(100, 40)};
  auto ev = evaluate(p, s, w, kT0);
  ASSERT_EQ(ev.new_rollbacks.size(), 1u);
  EXPECT_EQ(ev.new_rollbacks[0].pool, 2u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{10, 90, 0}));
  std::vector<WindowStats> w2{stats(100, 50), stats(800, 0), stats(0, 0)};
  ev = evaluate(p, s, w2, kT0 + seconds(1));
  ASSERT_EQ(ev.new_rollbacks.size(), 1u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{0, 100, 0}));
  EXPECT_EQ(s.rollbacks.size(), 2u);
}

TEST(Controller, ZeroWeightPoolIsNotRolledBack) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  std::vector<uint32_t> zero{100, 0};
  ASSERT_TRUE(set_weights(p, s, zero));
  std::vector<WindowStats> w{stats(1000, 0), stats(30, 30)};  // forced traffic only
  auto ev = evaluate(p, s, w, kT0);
  EXPECT_EQ(ev.pools[1].verdict, Verdict::kFailed);
  EXPECT_TRUE(ev.new_rollbacks.empty());
  EXPECT_FALSE(ev.weights_changed);
}

TEST(Controller, SetWeightsValidates) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  auto before = s;
  std::string err;
  std::vector<uint32_t> three{1, 2, 3}, zeros{0, 0};
  EXPECT_FALSE(set_weights(p, s, three, &err));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(set_weights(p, s, zeros, &err));
  EXPECT_NE(err.find("sum"), std::string::npos);
  EXPECT_EQ(s, before);
}

TEST(Controller, ManualRollback) {
  RoutePolicy p;
  p.weights = {70, 20, 10};
  p.baseline = 0;
  auto s = initial_state(p, kT0);
  EXPECT_TRUE(manual_rollback(p, s, 0u, kT0).empty());  // the baseline: ignored
  EXPECT_TRUE(manual_rollback(p, s, 7u, kT0).empty());  // out of range: ignored
  auto one = manual_rollback(p, s, 2u, kT0);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].reason, Reason::kManual);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{80, 20, 0}));
  std::vector<WindowStats> w{stats(0, 0), stats(40, 4), stats(0, 0)};
  auto rest = manual_rollback(p, s, std::nullopt, kT0, w);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].pool, 1u);
  EXPECT_EQ(rest[0].requests, 40u);
  EXPECT_DOUBLE_EQ(rest[0].observed_rate, 0.1);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0, 0}));
  EXPECT_TRUE(manual_rollback(p, s, std::nullopt, kT0).empty());  // nothing left
}

TEST(Rollout, WeightsPerStep) {
  auto p = rollout_policy();
  EXPECT_EQ(rollout_weights(p, 0), (std::vector<uint32_t>{99, 1}));
  EXPECT_EQ(rollout_weights(p, 2), (std::vector<uint32_t>{75, 25}));
  EXPECT_EQ(rollout_weights(p, 4), (std::vector<uint32_t>{0, 100}));
  EXPECT_EQ(rollout_weights(p, 99), (std::vector<uint32_t>{0, 100}));  // clamped
  RoutePolicy multi;
  multi.weights = {0, 3, 1};
  multi.baseline = 0;
  multi.rollout = RolloutPolicy{{50}, milliseconds(1000)};
  EXPECT_EQ(rollout_weights(multi, 0),
            (std::vector<uint32_t>{50, 38, 12}));  // 37.5 / 12.5: tie to lower slot
  multi.weights = {5, 0, 0};
  EXPECT_EQ(rollout_weights(multi, 0), (std::vector<uint32_t>{50, 25, 25}));  // no shares: equal
}

TEST(Rollout, AdvancesOneStepPerIntervalWhenNotFailed) {
  auto p = rollout_policy();
  auto s = initial_state(p, kT0);
  ASSERT_TRUE(s.rollout.has_value());
  EXPECT_EQ(s.rollout->step, 0u);
  EXPECT_EQ(s.rollout->status, RolloutStatus::kRunning);
  EXPECT_EQ(s.rollout->next_step_at, kT0 + seconds(60));
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{99, 1}));

  std::vector<WindowStats> healthy{stats(1000, 0), stats(100, 0)};
  std::vector<WindowStats> quiet{stats(1000, 0), stats(3, 0)};  // inconclusive canary

  auto ev = evaluate(p, s, healthy, kT0 + seconds(59));
  EXPECT_FALSE(ev.rollout_advanced);
  EXPECT_EQ(s.rollout->step, 0u);

  ev = evaluate(p, s, healthy, kT0 + seconds(60));
  EXPECT_TRUE(ev.rollout_advanced);
  EXPECT_TRUE(ev.weights_changed);
  EXPECT_EQ(s.rollout->step, 1u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{95, 5}));
  EXPECT_EQ(s.rollout->next_step_at, kT0 + seconds(120));

  ev = evaluate(p, s, healthy, kT0 + seconds(61));  // one step per interval
  EXPECT_FALSE(ev.rollout_advanced);

  // Inconclusive does not block (see controller.h).
  ev = evaluate(p, s, quiet, kT0 + seconds(500));  // several intervals late: still one step
  EXPECT_TRUE(ev.rollout_advanced);
  EXPECT_EQ(s.rollout->step, 2u);
  EXPECT_EQ(s.rollout->next_step_at, kT0 + seconds(560));

  ev = evaluate(p, s, healthy, kT0 + seconds(560));
  EXPECT_EQ(s.rollout->step, 3u);
  ev = evaluate(p, s, healthy, kT0 + seconds(620));
  EXPECT_EQ(s.rollout->step, 4u);
  EXPECT_EQ(s.rollout->status, RolloutStatus::kComplete);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{0, 100}));
  ev = evaluate(p, s, healthy, kT0 + seconds(2000));
  EXPECT_FALSE(ev.rollout_advanced);
  EXPECT_FALSE(ev.weights_changed);

  // A breach after completion still rolls back.
  std::vector<WindowStats> bad{stats(0, 0), stats(100, 50)};
  ev = evaluate(p, s, bad, kT0 + seconds(2001));
  ASSERT_EQ(ev.new_rollbacks.size(), 1u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
}

TEST(Rollout, BreachAbortsAndRollsBack) {
  auto p = rollout_policy();
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> healthy{stats(1000, 0), stats(100, 0)};
  evaluate(p, s, healthy, kT0 + seconds(60));
  evaluate(p, s, healthy, kT0 + seconds(120));
  ASSERT_EQ(s.rollout->step, 2u);
  std::vector<WindowStats> bad{stats(1000, 0), stats(100, 6)};  // 6% > 5%
  auto ev = evaluate(p, s, bad, kT0 + seconds(180));            // due for a step, but failed
  EXPECT_FALSE(ev.rollout_advanced);
  ASSERT_EQ(ev.new_rollbacks.size(), 1u);
  EXPECT_EQ(ev.new_rollbacks[0].weight_moved, 25u);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
  EXPECT_EQ(s.rollout->status, RolloutStatus::kAborted);
  EXPECT_EQ(s.rollout->step, 2u);
  ev = evaluate(p, s, healthy, kT0 + seconds(1000));
  EXPECT_FALSE(ev.rollout_advanced);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{100, 0}));
  // The operator takes over: rollout ends.
  std::vector<uint32_t> w{50, 50};
  ASSERT_TRUE(set_weights(p, s, w));
  EXPECT_FALSE(s.rollout.has_value());
  ev = evaluate(p, s, healthy, kT0 + seconds(2000));
  EXPECT_FALSE(ev.rollout_advanced);
  EXPECT_EQ(s.weights, w);
}

TEST(Rollout, SingleStepIsComplete) {
  auto p = canary_policy();
  p.rollout = RolloutPolicy{{10}, milliseconds(1000)};
  auto s = initial_state(p, kT0);
  EXPECT_EQ(s.rollout->status, RolloutStatus::kComplete);
  EXPECT_EQ(s.weights, (std::vector<uint32_t>{90, 10}));
  p.rollout = RolloutPolicy{{}, milliseconds(1000)};  // empty steps: no rollout
  EXPECT_FALSE(initial_state(p, kT0).rollout.has_value());
}

TEST(Restore, RollbackSurvivesRestartAndPoolReordering) {
  auto p = canary_policy();
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> w{stats(1000, 0), stats(100, 50)};
  evaluate(p, s, w, kT0);
  PersistedRoute saved{"app", {"blue", "canary"}, s};

  // Same config: identical state.
  std::vector<std::string> names{"blue", "canary"};
  auto r = restore_state(p, names, saved, kT0 + seconds(3600));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, s);

  // Pools listed the other way round in the new config.
  RoutePolicy q;
  q.weights = {5, 95};
  q.baseline = 1;
  std::vector<std::string> rev{"canary", "blue"};
  r = restore_state(q, rev, saved, kT0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->weights, (std::vector<uint32_t>{0, 100}));
  ASSERT_EQ(r->rollbacks.size(), 1u);
  EXPECT_EQ(r->rollbacks[0].pool, 0u);

  // Different pool set: dropped.
  std::vector<std::string> other{"blue", "green"};
  EXPECT_FALSE(restore_state(p, other, saved, kT0).has_value());
  std::vector<std::string> one{"blue"};
  EXPECT_FALSE(restore_state(p, one, saved, kT0).has_value());
}

TEST(Restore, ConfigWinsWhenNothingWasChangedAtRuntime) {
  auto p = canary_policy();
  PersistedRoute saved{"app", {"blue", "canary"}, initial_state(p, kT0)};
  auto p2 = p;
  p2.weights = {80, 20};  // edited config
  std::vector<std::string> names{"blue", "canary"};
  auto r = restore_state(p2, names, saved, kT0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->weights, (std::vector<uint32_t>{80, 20}));

  // Operator weights survive though.
  auto s = initial_state(p, kT0);
  std::vector<uint32_t> op{60, 40};
  ASSERT_TRUE(set_weights(p, s, op));
  saved.state = s;
  r = restore_state(p2, names, saved, kT0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->weights, op);
  EXPECT_TRUE(r->operator_set);
}

TEST(Restore, RunningRolloutResumesAfterAFullInterval) {
  auto p = rollout_policy();
  auto s = initial_state(p, kT0);
  std::vector<WindowStats> healthy{stats(1000, 0), stats(100, 0)};
  evaluate(p, s, healthy, kT0 + seconds(60));
  evaluate(p, s, healthy, kT0 + seconds(120));
  PersistedRoute saved{"app", {"blue", "canary"}, s};
  std::vector<std::string> names{"blue", "canary"};
  auto restart = kT0 + seconds(150);
  auto r = restore_state(p, names, saved, restart);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rollout->step, 2u);
  EXPECT_EQ(r->rollout->status, RolloutStatus::kRunning);
  EXPECT_EQ(r->weights, (std::vector<uint32_t>{75, 25}));
  EXPECT_EQ(r->rollout->next_step_at, restart + seconds(60));  // not 180 s: windows restart empty
}

TEST(FormatUtc, Iso8601) {
  EXPECT_EQ(format_utc(wall_ms(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc(wall_ms(1700000000123)), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_utc(wall_ms(951782400000)), "2000-02-29T00:00:00.000Z");
}

TEST(Strings, Spellings) {
  EXPECT_STREQ(to_string(Verdict::kInconclusive), "inconclusive");
  EXPECT_STREQ(to_string(Verdict::kHealthy), "healthy");
  EXPECT_STREQ(to_string(Verdict::kFailed), "failed");
  EXPECT_STREQ(to_string(Reason::kErrorRate), "error_rate");
  EXPECT_STREQ(to_string(Reason::kP99Latency), "p99_latency");
  EXPECT_STREQ(to_string(Reason::kManual), "manual");
  EXPECT_STREQ(to_string(RolloutStatus::kAborted), "aborted");
}

}  // namespace
}  // namespace sluice::routing
