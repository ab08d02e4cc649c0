// The health table the workers read: passive ejection after the pool's
// threshold of consecutive transport failures, re-admission (half-open or
// full), and what a reload carries over to the next snapshot's table.
#include "proxy/health.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(HealthTable, EjectsAfterThresholdConsecutiveFailuresOnly) {
  HealthTable t({2}, {3});
  EXPECT_FALSE(t.report_failure(0, 0, 100));
  EXPECT_FALSE(t.report_failure(0, 0, 101));
  t.report_success(0, 0);  // the streak is broken
  EXPECT_FALSE(t.report_failure(0, 0, 102));
  EXPECT_FALSE(t.report_failure(0, 0, 103));
  EXPECT_TRUE(t.healthy(0, 0));
  EXPECT_TRUE(t.report_failure(0, 0, 104));
  EXPECT_FALSE(t.healthy(0, 0));
  EXPECT_EQ(t.ejected_at(0, 0), 104u);
  EXPECT_FALSE(t.report_failure(0, 0, 105)) << "out already: not ejected twice";
  EXPECT_EQ(t.ejected_at(0, 0), 104u);
  EXPECT_TRUE(t.any_healthy(0)) << "the other server";
  EXPECT_TRUE(t.healthy(0, 1));
}

TEST(HealthTable, DefaultThresholdAndHalfOpenReadmission) {
  HealthTable t({1});
  EXPECT_EQ(t.threshold(0), kPassiveDefaultThreshold);
  for (uint32_t i = 0; i + 1 < kPassiveDefaultThreshold; ++i)
    EXPECT_FALSE(t.report_failure(0, 0, 7));
  EXPECT_TRUE(t.report_failure(0, 0, 7));
  EXPECT_FALSE(t.any_healthy(0));
  t.readmit(0, 0, true);
  EXPECT_TRUE(t.healthy(0, 0));
  EXPECT_EQ(t.ejected_at(0, 0), 0u);
  EXPECT_TRUE(t.report_failure(0, 0, 9)) << "half-open: one more failure ejects again";
  t.readmit(0, 0, false);
  EXPECT_FALSE(t.report_failure(0, 0, 10)) << "fully re-admitted: a fresh streak";
}

TEST(HealthTable, InheritKeepsEjectionsAndActiveVerdicts) {
  HealthTable old({3}, {2});
  EXPECT_FALSE(old.report_failure(0, 0, 50));
  EXPECT_TRUE(old.report_failure(0, 0, 51));   // server 0: passively ejected
  old.set(0, 1, false);                        // server 1: an active check said down
  EXPECT_FALSE(old.report_failure(0, 2, 52));  // server 2: one failure so far

  // The next table orders the pool's servers differently.
  HealthTable next({3}, {2});
  next.inherit(0, 2, old, 0, 0, true);
  next.inherit(0, 0, old, 0, 1, true);
  next.inherit(0, 1, old, 0, 2, true);
  EXPECT_FALSE(next.healthy(0, 2));
  EXPECT_EQ(next.ejected_at(0, 2), 51u);
  EXPECT_FALSE(next.healthy(0, 0));
  EXPECT_EQ(next.ejected_at(0, 0), 0u);
  EXPECT_TRUE(next.healthy(0, 1));
  EXPECT_TRUE(next.report_failure(0, 1, 60)) << "the failure streak carried over";

  // A pool that lost its health_check: an active verdict would never be
  // lifted, so it is dropped; a passive ejection still carries (its cool-down ends it).
  HealthTable unchecked({2}, {2});
  unchecked.inherit(0, 0, old, 0, 1, false);
  unchecked.inherit(0, 1, old, 0, 0, false);
  EXPECT_TRUE(unchecked.healthy(0, 0));
  EXPECT_FALSE(unchecked.healthy(0, 1));
  EXPECT_EQ(unchecked.ejected_at(0, 1), 51u);
}

}  // namespace
}  // namespace sluice
