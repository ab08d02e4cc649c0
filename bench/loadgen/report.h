// Report: the end-of-run summary (text for people, --json for machines) and the
// progress line. Pure formatting of merged Stats: no I/O, no clock.
#pragma once

#include <cstdint>
#include <string>

#include "bench/loadgen/options.h"
#include "bench/loadgen/stats.h"

namespace sluice::bench {

struct RunResult {
  const Options& options;
  const Stats& stats;        // merged over every worker
  uint64_t elapsed_ns = 0;   // from the start of the timetable to the end of the run
  bool interrupted = false;  // stopped by a signal before the plan was done
};

std::string format_summary(const RunResult& r);
std::string format_json(const RunResult& r);

// "[  5 s]  10234 requests  2045 req/s" (no line end): requests finished so
// far, with or without a response, and the rate over the last interval.
std::string format_progress(double elapsed_s, uint64_t finished, double recent_rate);

// 950 ns → "950 ns", 1234567 ns → "1.23 ms", 2.5e9 ns → "2.50 s".
std::string format_latency(uint64_t ns);

}  // namespace sluice::bench
