// Rollback and progressive-rollout decisions for one route, and their persistence.
//
// Everything here is pure: the caller (the proxy's control loop, one thread) owns a
// RouteState per route, feeds it the merged window stats of each pool together with `now`,
// and applies what comes back (push effective weights to the workers, log the events,
// persist the state). Nothing here reads a clock, touches a file or a socket, or keeps
// hidden state; nothing is thread-safe (RouteState belongs to the control loop).
//
// Pools are identified by their slot: the position of the pool in the route's split, in
// config order. Slots map to names only at the persistence boundary (PersistedRoute), so a
// persisted state survives reordering of pools in the config.
//
// Policy, in the words of the spec:
//  - A pool's verdict over the window is "inconclusive" below min_requests, "failed" when its
//    error rate is strictly above error_rate (== is not a failure) or its p99 is strictly
//    above p99_latency, else "healthy".
//  - A failed non-baseline pool that carries weight (or is being rolled out) is rolled back:
//    its weight becomes 0 and is added to the baseline's. The route then stays that way (no
//    flapping, no automatic recovery) until an operator calls set_weights(). A failed
//    baseline is reported but never rolled back: there is nowhere to move its traffic.
//  - Rollout: the non-baseline pools together get steps[i] percent of the traffic (shared in
//    proportion to their configured weights; the baseline gets the rest; configured weights
//    otherwise do not matter while a rollout runs). The rollout advances one step when at
//    least `interval` has passed since the current step started AND no non-baseline pool is
//    failed in this evaluation. "Inconclusive" does not block advancing: a low-traffic canary
//    may never reach min_requests at a 1% step, and a rollout that can never finish is worse
//    than one that finishes on the evidence there is (any breach that does show up rolls it
//    back at once, at any step). Operators who want evidence before each step should pick
//    min_requests and interval so that each step sees enough traffic.
//    A breach aborts the rollout and rolls back as above. set_weights() ends the rollout:
//    the operator has taken over.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "routing/time_types.h"
#include "routing/window.h"

namespace sluice::routing {

enum class Verdict : uint8_t { kInconclusive, kHealthy, kFailed };
enum class Reason : uint8_t { kNone, kErrorRate, kP99Latency, kManual };
enum class RolloutStatus : uint8_t { kRunning, kComplete, kAborted };

// "inconclusive" / "healthy" / "failed"; "none" / "error_rate" / "p99_latency" / "manual";
// "running" / "complete" / "aborted". These strings are also the persisted spelling.
const char* to_string(Verdict v);
const char* to_string(Reason r);
const char* to_string(RolloutStatus s);

struct RolloutPolicy {
  std::vector<uint32_t> steps;  // percent of traffic for the non-baseline pools, each 0..100
  Millis interval{60000};
};

// The routing-relevant part of a [[route]] (built by the proxy from the config snapshot).
struct RoutePolicy {
  std::vector<uint32_t> weights;  // configured split, one per slot
  uint32_t baseline = 0;          // slot of the baseline pool
  double error_rate = 0.05;       // failed when errors / requests > error_rate
  uint64_t min_requests = 20;     // fewer requests in the window: inconclusive
  std::optional<Micros> p99_latency;
  std::optional<RolloutPolicy> rollout;  // absent, or with at least one step
};

struct PoolVerdict {
  Verdict verdict = Verdict::kInconclusive;
  Reason reason = Reason::kNone;  // why it failed
  uint64_t requests = 0;
  uint64_t errors = 0;
  double error_rate = 0;
  std::optional<Micros> p99;
};

struct RollbackRecord {
  uint32_t pool = 0;  // slot
  Reason reason = Reason::kNone;
  double observed_rate = 0;  // error rate over the window when it was rolled back
  uint64_t requests = 0;     // requests in that window
  std::optional<Micros> observed_p99;
  uint32_t weight_moved = 0;  // weight it had, now added to the baseline
  WallTime at{};
  friend bool operator==(const RollbackRecord&, const RollbackRecord&) = default;
};

struct RolloutState {
  uint32_t step = 0;  // index into RolloutPolicy::steps
  RolloutStatus status = RolloutStatus::kRunning;
  WallTime next_step_at{};  // meaningful while running
  friend bool operator==(const RolloutState&, const RolloutState&) = default;
};

struct RouteState {
  std::vector<uint32_t> weights;          // effective weights, one per slot
  bool operator_set = false;              // weights come from set_weights(), not the config
  std::vector<RollbackRecord> rollbacks;  // in effect, oldest first; cleared by set_weights()
  std::optional<RolloutState> rollout;    // none: no rollout configured, or operator took over

  bool rolled_back(uint32_t slot) const;
  friend bool operator==(const RouteState&, const RouteState&) = default;
};

// Verdict for one pool's window.
PoolVerdict judge(const RoutePolicy& policy, const WindowStats& stats);

// The state of a freshly loaded route: configured weights, or the first rollout step.
RouteState initial_state(const RoutePolicy& policy, WallTime now);

// Effective weights at rollout step `step` (clamped to the last step), in percent: the
// non-baseline pools share steps[step] in proportion to their configured weights (largest
// remainder rounding, so the sum is exactly 100; equal shares if they are all 0).
std::vector<uint32_t> rollout_weights(const RoutePolicy& policy, uint32_t step);

struct Evaluation {
  std::vector<PoolVerdict> pools;             // one per slot
  std::vector<RollbackRecord> new_rollbacks;  // done by this call: log, count, persist
  bool rollout_advanced = false;
  bool weights_changed = false;  // push state.weights to the workers and persist
};

// One control-loop tick. `stats` has one entry per slot (missing entries count as empty).
Evaluation evaluate(const RoutePolicy& policy, RouteState& state,
                    std::span<const WindowStats> stats, WallTime now);

// Operator sets weights (admin API / sluicectl split): clears rollbacks, ends any rollout.
// Fails, leaving `state` untouched, unless there is one weight per slot and their sum is > 0.
bool set_weights(const RoutePolicy& policy, RouteState& state, std::span<const uint32_t> weights,
                 std::string* error = nullptr);

// Operator-requested rollback of one non-baseline pool (`slot`) or of every non-baseline pool
// that has weight (nullopt). Same effect as an automatic rollback, with Reason::kManual;
// `stats` (optional, one per slot) fills the observed fields. Returns the new records (empty
// when there was nothing to roll back). A slot that is the baseline or out of range is ignored.
std::vector<RollbackRecord> manual_rollback(const RoutePolicy& policy, RouteState& state,
                                            std::optional<uint32_t> slot, WallTime now,
                                            std::span<const WindowStats> stats = {});

// ---- Persistence (state_dir) ----------------------------------------------------------
//
// The whole runtime state of all routes as a small JSON document, written by hand and read
// back by a strict parser for exactly this format (unknown or missing keys, wrong types,
// duplicate keys or routes, out-of-range numbers, trailing bytes, or any malformed input are
// errors, reported with a byte offset; never a crash, fuzzed). Whitespace and key order are
// free, so an operator may pretty-print or hand-edit the file:
//
// {"version":1,"routes":[
// {"name":"app","weights":{"blue":100,"canary":0},"operator_set":false,
//  "rollbacks":[{"pool":"canary","reason":"error_rate","observed_rate":0.31,"requests":42,
//                "p99_us":null,"weight_moved":5,"at_ms":1700000000000}],
//  "rollout":{"step":2,"status":"aborted","next_step_at_ms":1700000000000}}
// ]}
//
// (one route per line; "rollout" is null when there is none.)

struct PersistedRoute {
  std::string name;                // route name
  std::vector<std::string> pools;  // pool name of each slot of `state`
  RouteState state;
  friend bool operator==(const PersistedRoute&, const PersistedRoute&) = default;
};

std::string serialize_state(std::span<const PersistedRoute> routes);

struct StateParseResult {
  std::vector<PersistedRoute> routes;
  std::string error;  // empty on success; otherwise "offset N: message"
  bool ok() const { return error.empty(); }
};
StateParseResult parse_state(std::string_view json);

// Rebuild a route's state from what was persisted (after a restart or a reload), against the
// current config. `pool_names` names each slot of `policy`. Pools are matched by name.
//  - Different pool set than persisted: nullopt (the config changed; the caller starts from
//    initial_state() and logs that the persisted state was dropped).
//  - Operator weights or rollbacks were in effect: they are kept (no flapping across
//    restarts), re-ordered to the current slots.
//  - A rollout was running: it resumes at its step (weights recomputed from the current
//    config); the next step is due no earlier than now + interval, because the windows
//    start empty after a restart and a step needs an interval of observation.
//  - Otherwise the config is authoritative: initial_state().
std::optional<RouteState> restore_state(const RoutePolicy& policy,
                                        std::span<const std::string> pool_names,
                                        const PersistedRoute& persisted, WallTime now);

// "2024-05-01T12:34:56.789Z", for status output and events.
std::string format_utc(WallTime t);

}  // namespace sluice::routing
