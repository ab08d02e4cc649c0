#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <utility>

#include "bench/loadgen/connection.h"
#include "bench/loadgen/worker.h"

namespace sluice::bench {
namespace {

Options with(unsigned threads, unsigned connections, uint64_t requests, uint64_t duration_ns,
             double rate) {
  Options o;
  o.threads = threads;
  o.connections = connections;
  o.requests = requests;
  o.duration_ns = duration_ns;
  o.rate = rate;
  return o;
}

TEST(Plan, RequestsAndConnectionsAreDealtOutExactly) {
  Options o = with(3, 10, 1000, 0, 0);
  uint64_t requests = 0;
  unsigned connections = 0;
  for (unsigned i = 0; i < 3; ++i) {
    Plan p = make_plan(o, i);
    requests += p.limit;
    connections += p.connections;
    EXPECT_EQ(p.deadline_ns, 0u);
  }
  EXPECT_EQ(requests, 1000u);
  EXPECT_EQ(connections, 10u);
  EXPECT_EQ(make_plan(o, 0).connections, 4u);
  EXPECT_EQ(make_plan(o, 0).limit, 334u);
  EXPECT_EQ(make_plan(o, 2).limit, 333u);
}

TEST(Plan, ClosedLoopDurationRunsToADeadline) {
  Plan p = make_plan(with(2, 2, 0, 5'000'000'000, 0), 1);
  EXPECT_EQ(p.limit, UINT64_MAX);
  EXPECT_EQ(p.deadline_ns, 5'000'000'000u);
}

TEST(Plan, OpenLoopDurationHoldsExactlyTheRequestsDueInIt) {
  // 200/s for 3 s: due at 0, 5 ms, ..., 2995 ms: 600 requests.
  EXPECT_EQ(requests_due_within(3'000'000'000, 200), 600u);
  EXPECT_EQ(requests_due_within(1'000'000'000, 3), 3u);  // 0, 333, 666 ms
  EXPECT_EQ(requests_due_within(1'000'000'001, 1), 2u);  // 0 and 1 s
  EXPECT_EQ(requests_due_within(999'999'999, 1), 1u);
  EXPECT_EQ(requests_due_within(10'000'000'000, 0.5), 5u);
  uint64_t total = 0;
  Options o = with(3, 3, 0, 3'000'000'000, 200);
  for (unsigned i = 0; i < 3; ++i) total += make_plan(o, i).limit;
  EXPECT_EQ(total, 600u);
}

TEST(Plan, TimetableIsEvenAcrossWorkers) {
  // Worker i of T sends j = i, i+T, ...: together a request every 1/R s.
  EXPECT_EQ(due_offset_ns(0, 1000), 0u);
  EXPECT_EQ(due_offset_ns(1, 1000), 1'000'000u);
  EXPECT_EQ(due_offset_ns(1'000'000, 1000), 1'000'000'000'000u);
  EXPECT_EQ(due_offset_ns(3, 3), 1'000'000'000u);
}

TEST(ConnectionStates, TransitionTableMatchesTheDiagram) {
  using S = Connection::State;
  const std::set<std::pair<S, S>> legal = {
      {S::Closed, S::Connecting},  {S::Connecting, S::Handshaking},
      {S::Connecting, S::Active},  {S::Handshaking, S::Active},
      {S::Idle, S::Active},        {S::Active, S::Idle},
      {S::Connecting, S::Closing}, {S::Handshaking, S::Closing},
      {S::Active, S::Closing},     {S::Idle, S::Closing},
      {S::Closing, S::Closed},
  };
  const S all[] = {S::Closed, S::Connecting, S::Handshaking, S::Active, S::Idle, S::Closing};
  for (S from : all)
    for (S to : all)
      EXPECT_EQ(Connection::allowed(from, to), legal.count({from, to}) == 1)
          << Connection::to_string(from) << " -> " << Connection::to_string(to);
}

}  // namespace
}  // namespace sluice::bench
