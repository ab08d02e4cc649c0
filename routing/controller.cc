#include "routing/controller.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

namespace sluice::routing {
namespace {

uint32_t sat_add(uint32_t a, uint32_t b) {
  uint64_t s = uint64_t{a} + b;
  return s > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                  : static_cast<uint32_t>(s);
}

bool rollout_running(const RouteState& s) {
  return s.rollout && s.rollout->status == RolloutStatus::kRunning;
}

bool has_rollout(const RoutePolicy& p) {
  return p.rollout && !p.rollout->steps.empty();
}

// Moves `slot`'s weight to the baseline and records why. Aborts a running rollout.
RollbackRecord roll_back(const RoutePolicy& policy, RouteState& state, uint32_t slot, Reason reason,
                         const PoolVerdict& seen, WallTime now) {
  RollbackRecord r;
  r.pool = slot;
  r.reason = reason;
  r.observed_rate = seen.error_rate;
  r.requests = seen.requests;
  r.observed_p99 = seen.p99;
  r.weight_moved = state.weights[slot];
  r.at = now;
  state.weights[policy.baseline] = sat_add(state.weights[policy.baseline], state.weights[slot]);
  state.weights[slot] = 0;
  if (rollout_running(state)) state.rollout->status = RolloutStatus::kAborted;
  state.rollbacks.push_back(r);
  return r;
}

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kHealthy:
      return "healthy";
    case Verdict::kFailed:
      return "failed";
  }
  return "inconclusive";
}

const char* to_string(Reason r) {
  switch (r) {
    case Reason::kNone:
      return "none";
    case Reason::kErrorRate:
      return "error_rate";
    case Reason::kP99Latency:
      return "p99_latency";
    case Reason::kManual:
      return "manual";
  }
  return "none";
}

const char* to_string(RolloutStatus s) {
  switch (s) {
    case RolloutStatus::kRunning:
      return "running";
    case RolloutStatus::kComplete:
      return "complete";
    case RolloutStatus::kAborted:
      return "aborted";
  }
  return "running";
}

bool RouteState::rolled_back(uint32_t slot) const {
  return std::any_of(rollbacks.begin(), rollbacks.end(),
                     [slot](const RollbackRecord& r) { return r.pool == slot; });
}

PoolVerdict judge(const RoutePolicy& policy, const WindowStats& stats) {
  PoolVerdict v;
  v.requests = stats.requests;
  v.errors = stats.errors;
  v.error_rate = stats.error_rate();
  v.p99 = stats.p99;
  if (stats.requests < policy.min_requests || stats.requests == 0) {
    v.verdict = Verdict::kInconclusive;
  } else if (v.error_rate > policy.error_rate) {
    v.verdict = Verdict::kFailed;
    v.reason = Reason::kErrorRate;
  } else if (policy.p99_latency && stats.p99 && *stats.p99 > *policy.p99_latency) {
    v.verdict = Verdict::kFailed;
    v.reason = Reason::kP99Latency;
  } else {
    v.verdict = Verdict::kHealthy;
  }
  return v;
}

std::vector<uint32_t> rollout_weights(const RoutePolicy& policy, uint32_t step) {
  const size_t n = policy.weights.size();
  std::vector<uint32_t> out(n, 0);
  if (n == 0 || !has_rollout(policy) || policy.baseline >= n) return out;
  const auto& steps = policy.rollout->steps;
  uint32_t pct = std::min<uint32_t>(steps[std::min<size_t>(step, steps.size() - 1)], 100);

  std::vector<uint64_t> share(n, 0);  // the non-baseline pools' relative weights
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i == policy.baseline) continue;
    share[i] = policy.weights[i];
    sum += share[i];
  }
  if (sum == 0) {
    for (size_t i = 0; i < n; ++i) share[i] = (i == policy.baseline) ? 0 : 1;
    sum = n - 1;
  }
  if (sum == 0) {  // the baseline is the only pool
    out[policy.baseline] = 100;
    return out;
  }
  // Largest remainder: floor shares, then hand out what is left by descending remainder
  // (ties: lower slot), so the non-baseline pools get exactly `pct` between them.
  uint32_t given = 0;
  std::vector<std::pair<uint64_t, size_t>> rem;
  for (size_t i = 0; i < n; ++i) {
    if (i == policy.baseline) continue;
    uint64_t num = share[i] * pct;
    out[i] = static_cast<uint32_t>(num / sum);
    given += out[i];
    rem.emplace_back(num % sum, i);
  }
  std::stable_sort(rem.begin(), rem.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < pct && k < rem.size(); ++k, ++given) ++out[rem[k].second];
  out[policy.baseline] = 100 - pct;
  return out;
}

RouteState initial_state(const RoutePolicy& policy, WallTime now) {
  RouteState s;
  if (has_rollout(policy)) {
    RolloutState r;
    r.step = 0;
    r.status =
        policy.rollout->steps.size() == 1 ? RolloutStatus::kComplete : RolloutStatus::kRunning;
    r.next_step_at = now + policy.rollout->interval;
    s.rollout = r;
    s.weights = rollout_weights(policy, 0);
  } else {
    s.weights = policy.weights;
  }
  return s;
}

Evaluation evaluate(const RoutePolicy& policy, RouteState& state,
                    std::span<const WindowStats> stats, WallTime now) {
  Evaluation ev;
  const size_t n = state.weights.size();
  ev.pools.reserve(n);
  for (size_t i = 0; i < n; ++i)
    ev.pools.push_back(judge(policy, i < stats.size() ? stats[i] : WindowStats{}));
  if (policy.baseline >= n) return ev;  // misconfigured caller: report, never act

  bool any_failed = false;
  for (uint32_t i = 0; i < n; ++i) {
    if (i == policy.baseline || ev.pools[i].verdict != Verdict::kFailed) continue;
    any_failed = true;
    // A pool already at weight 0 only sees forced traffic; nothing to roll back unless a
    // rollout is running (the breach must stop it even at a 0% step).
    if (state.weights[i] == 0 && !rollout_running(state)) continue;
    ev.new_rollbacks.push_back(roll_back(policy, state, i, ev.pools[i].reason, ev.pools[i], now));
    ev.weights_changed = true;
  }

  if (!any_failed && rollout_running(state) && has_rollout(policy) &&
      now >= state.rollout->next_step_at) {
    RolloutState& r = *state.rollout;
    const auto last = static_cast<uint32_t>(policy.rollout->steps.size() - 1);
    if (r.step < last) {
      ++r.step;
      r.next_step_at = now + policy.rollout->interval;
      std::vector<uint32_t> w = rollout_weights(policy, r.step);
      if (w != state.weights) ev.weights_changed = true;
      state.weights = std::move(w);
      ev.rollout_advanced = true;
    }
    if (r.step >= last) r.status = RolloutStatus::kComplete;
  }
  return ev;
}

bool set_weights(const RoutePolicy& policy, RouteState& state, std::span<const uint32_t> weights,
                 std::string* error) {
  auto fail = [error](const char* msg) {
    if (error) *error = msg;
    return false;
  };
  if (weights.size() != policy.weights.size())
    return fail("one weight per pool of the route is required");
  uint64_t sum = 0;
  for (uint32_t w : weights) sum += w;
  if (sum == 0) return fail("the sum of the weights must be greater than 0");
  state.weights.assign(weights.begin(), weights.end());
  state.operator_set = true;
  state.rollbacks.clear();
  state.rollout.reset();
  return true;
}

std::vector<RollbackRecord> manual_rollback(const RoutePolicy& policy, RouteState& state,
                                            std::optional<uint32_t> slot, WallTime now,
                                            std::span<const WindowStats> stats) {
  std::vector<RollbackRecord> out;
  const size_t n = state.weights.size();
  if (policy.baseline >= n) return out;
  for (uint32_t i = 0; i < n; ++i) {
    if (i == policy.baseline || (slot && *slot != i)) continue;
    if (state.weights[i] == 0 && !rollout_running(state)) continue;
    PoolVerdict seen = judge(policy, i < stats.size() ? stats[i] : WindowStats{});
    out.push_back(roll_back(policy, state, i, Reason::kManual, seen, now));
  }
  return out;
}

std::optional<RouteState> restore_state(const RoutePolicy& policy,
                                        std::span<const std::string> pool_names,
                                        const PersistedRoute& persisted, WallTime now) {
  const size_t n = policy.weights.size();
  const RouteState& old = persisted.state;
  if (pool_names.size() != n || persisted.pools.size() != n || old.weights.size() != n)
    return std::nullopt;
  if (policy.baseline >= n) return std::nullopt;
  // slot_of[old slot] = current slot
  std::vector<uint32_t> slot_of(n);
  std::vector<bool> taken(n, false);
  for (size_t o = 0; o < n; ++o) {
    auto it = std::find(pool_names.begin(), pool_names.end(), persisted.pools[o]);
    if (it == pool_names.end()) return std::nullopt;
    auto c = static_cast<size_t>(it - pool_names.begin());
    if (taken[c]) return std::nullopt;
    taken[c] = true;
    slot_of[o] = static_cast<uint32_t>(c);
  }

  if (old.operator_set || !old.rollbacks.empty()) {
    RouteState s;
    s.weights.assign(n, 0);
    uint64_t sum = 0;
    for (size_t o = 0; o < n; ++o) {
      s.weights[slot_of[o]] = old.weights[o];
      sum += old.weights[o];
    }
    if (sum == 0) return std::nullopt;
    s.operator_set = old.operator_set;
    for (RollbackRecord r : old.rollbacks) {
      if (r.pool >= n) return std::nullopt;
      r.pool = slot_of[r.pool];
      if (r.pool == policy.baseline) return std::nullopt;  // the baseline moved: config changed
      s.rollbacks.push_back(r);
    }
    // A rollout record is kept for status only when it no longer runs (aborted/complete);
    // one still running next to a rollback cannot be produced by this module.
    if (old.rollout && old.rollout->status != RolloutStatus::kRunning && has_rollout(policy))
      s.rollout = old.rollout;
    return s;
  }

  if (old.rollout && has_rollout(policy)) {
    RouteState s;
    RolloutState r = *old.rollout;
    const auto last = static_cast<uint32_t>(policy.rollout->steps.size() - 1);
    if (r.step > last) r.step = last;
    if (r.status == RolloutStatus::kAborted)
      return initial_state(policy, now);  // aborted needs a rollback
    r.status = r.step >= last ? RolloutStatus::kComplete : RolloutStatus::kRunning;
    r.next_step_at = std::max(r.next_step_at, now + policy.rollout->interval);
    s.rollout = r;
    s.weights = rollout_weights(policy, r.step);
    return s;
  }
  return initial_state(policy, now);
}

std::string format_utc(WallTime t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  auto ms = (t - day).count();  // milliseconds into the day, >= 0
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

}  // namespace sluice::routing
