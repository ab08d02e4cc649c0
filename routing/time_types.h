// Time types used by routing/. routing/ never reads a clock: callers pass "now" in.
//
// MonoTime is a monotonic instant (e.g. built from uv_now(): milliseconds since an
// arbitrary epoch); sliding windows use it. WallTime is milliseconds since the Unix epoch;
// controller records use it because they are shown to operators and persisted across
// restarts (a monotonic instant means nothing after a restart).
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice::routing {

using Millis = std::chrono::milliseconds;
using Micros = std::chrono::microseconds;
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Millis>;
using WallTime = std::chrono::time_point<std::chrono::system_clock, Millis>;

// Convenience constructors: MonoTime from uv_now()-style counters, WallTime from Unix ms.
constexpr MonoTime mono_ms(int64_t ms) {
  return MonoTime{Millis{ms}};
}
constexpr WallTime wall_ms(int64_t ms) {
  return WallTime{Millis{ms}};
}

}  // namespace sluice::routing
