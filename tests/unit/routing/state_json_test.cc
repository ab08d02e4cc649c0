#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "routing/controller.h"

namespace sluice::routing {
namespace {

std::vector<PersistedRoute> sample() {
  std::vector<PersistedRoute> routes;

  PersistedRoute app;
  app.name = "app";
  app.pools = {"blue", "canary"};
  app.state.weights = {100, 0};
  RollbackRecord r;
  r.pool = 1;
  r.reason = Reason::kErrorRate;
  r.observed_rate = 13.0 / 42;  // not a short decimal: must still round-trip exactly
  r.requests = 42;
  r.observed_p99 = Micros{12500};
  r.weight_moved = 5;
  r.at = wall_ms(1700000000123);
  app.state.rollbacks.push_back(r);
  app.state.rollout = RolloutState{2, RolloutStatus::kAborted, wall_ms(1700000060000)};
  routes.push_back(app);

  PersistedRoute api;
  api.name = "api \"v2\"\\\n\t\x01 é";  // escaping, control characters, UTF-8
  api.pools = {"green", "blue", "canary-\xE2\x9C\x93"};
  api.state.weights = {0, 70, 30};
  api.state.operator_set = true;
  routes.push_back(api);

  PersistedRoute slow;
  slow.name = "slow";
  slow.pools = {"a", "b", "c"};
  slow.state.weights = {90, 10, 0};
  RollbackRecord p;
  p.pool = 2;
  p.reason = Reason::kP99Latency;
  p.observed_rate = 0;
  p.requests = 18446744073709551615ull;
  p.observed_p99 = std::nullopt;
  p.weight_moved = 4294967295u;
  p.at = wall_ms(0);
  slow.state.rollbacks.push_back(p);
  RollbackRecord m = p;
  m.pool = 1;
  m.reason = Reason::kManual;
  m.observed_rate = 1e-9;
  slow.state.rollbacks.push_back(m);
  slow.state.rollout = RolloutState{0, RolloutStatus::kRunning, wall_ms(-5)};
  routes.push_back(slow);
  return routes;
}

TEST(StateJson, RoundTrip) {
  auto routes = sample();
  std::string doc = serialize_state(routes);
  auto parsed = parse_state(doc);
  ASSERT_TRUE(parsed.ok()) << parsed.error << "\n" << doc;
  ASSERT_EQ(parsed.routes.size(), routes.size());
  for (size_t i = 0; i < routes.size(); ++i) EXPECT_EQ(parsed.routes[i], routes[i]) << i;
  EXPECT_EQ(serialize_state(parsed.routes), doc);
}

TEST(StateJson, DocumentedShape) {
  std::vector<PersistedRoute> one{sample()[0]};
  EXPECT_EQ(serialize_state(one),
            "{\"version\":1,\"routes\":[\n"
            "{\"name\":\"app\",\"weights\":{\"blue\":100,\"canary\":0},\"operator_set\":false,"
            "\"rollbacks\":[{\"pool\":\"canary\",\"reason\":\"error_rate\",\"observed_rate\":0."
            "30952380952380953,"
            "\"requests\":42,\"p99_us\":12500,\"weight_moved\":5,\"at_ms\":1700000000123}],"
            "\"rollout\":{\"step\":2,\"status\":\"aborted\",\"next_step_at_ms\":1700000060000}}\n"
            "]}\n");
}

TEST(StateJson, EmptyRoundTripAndWhitespace) {
  auto parsed = parse_state(serialize_state({}));
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_TRUE(parsed.routes.empty());
  auto pretty = parse_state(
      " {\n  \"routes\" : [ {\"rollout\": null, \"name\": \"x\", \"operator_set\": true,\r\n"
      "  \"rollbacks\": [ ], \"weights\": { \"p\" : 1 } } ],\n  \"version\" : 1\n}\n");
  ASSERT_TRUE(pretty.ok()) << pretty.error;
  ASSERT_EQ(pretty.routes.size(), 1u);
  EXPECT_EQ(pretty.routes[0].pools, (std::vector<std::string>{"p"}));
  auto escaped = parse_state(
      R"({"version":1,"routes":[{"name":"\u00e9\ud83d\ude00\/","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})");
  ASSERT_TRUE(escaped.ok()) << escaped.error;
  EXPECT_EQ(escaped.routes[0].name, "\xC3\xA9\xF0\x9F\x98\x80/");
}

TEST(StateJson, EveryTruncationIsRejected) {
  std::string doc = serialize_state(sample());
  std::string trimmed = doc.substr(0, doc.find_last_not_of('\n') + 1);
  for (size_t n = 0; n < trimmed.size(); ++n) {
    auto r = parse_state(std::string_view(trimmed).substr(0, n));
    ASSERT_FALSE(r.ok()) << "accepted a prefix of " << n << " bytes";
    ASSERT_TRUE(r.routes.empty());
  }
  EXPECT_TRUE(parse_state(trimmed).ok());
}

TEST(StateJson, RandomCorruptionNeverCrashes) {
  std::string doc = serialize_state(sample());
  std::mt19937_64 rng(99);
  const std::string alphabet = "{}[]\":,0123456789-+.eE \\untrfalsx\x01\xff";
  int accepted = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string m = doc;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          m.erase(at, 1 + rng() % 8);
          break;
        default:
          m.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
      if (m.empty()) m.push_back('x');
    }
    auto r = parse_state(m);
    if (r.ok()) {
      ++accepted;  // a harmless edit (e.g. whitespace, a digit): must be self-consistent
      auto again = parse_state(serialize_state(r.routes));
      ASSERT_TRUE(again.ok()) << again.error;
      ASSERT_EQ(again.routes, r.routes);
    } else {
      ASSERT_TRUE(r.routes.empty());
      ASSERT_EQ(r.error.rfind("offset ", 0), 0u) << r.error;
    }
  }
  RecordProperty("accepted_mutations", accepted);
}

TEST(StateJson, RejectsMalformedAndOffSchema) {
  const char* bad[] = {
      "",
      "null",
      "[]",
      "{}",
      R"({"version":1})",
      R"({"version":2,"routes":[]})",
      R"({"version":1,"routes":[],"extra":0})",
      R"({"version":1,"version":1,"routes":[]})",
      R"({"version":1.0,"routes":[]})",
      R"({"version":01,"routes":[]})",
      R"({"version":1,"routes":{}})",
      R"({"version":1,"routes":[]} x)",
      R"({"version":1,"routes":[],})",
      R"({"version":1,"routes":[1,]})",
      // routes
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[]}]})",
      R"({"version":1,"routes":[{"name":"","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":0},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":-1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":4294967296},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"p":2},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":0,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":1,"weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      (R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null},)"
       R"({"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})"),  // duplicate route
      // rollbacks
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"x","reason":"manual","observed_rate":0,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"boom","observed_rate":0,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":NaN,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":1e999,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":-0.5,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":0,"requests":0,"p99_us":null,"weight_moved":1}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":0,"requests":0,"p99_us":"1","weight_moved":1,"at_ms":0}],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1,"q":0},"operator_set":false,"rollbacks":[{"pool":"q","reason":"manual","observed_rate":0,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0},{"pool":"q","reason":"manual","observed_rate":0,"requests":0,"p99_us":null,"weight_moved":1,"at_ms":0}],"rollout":null}]})",
      // rollout
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":{"step":1,"status":"paused","next_step_at_ms":0}}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":{"step":1,"status":"running"}}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":{"step":1,"status":"running","next_step_at_ms":1e3}}]})",
      // lexical
      R"({"version":1,"routes":[{"name":"\x","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"\ud800","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"\u12","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":'a',"weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":False,"rollbacks":[],"rollout":null}]})",
      R"({"version":1,"routes":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
  };
  for (const char* doc : bad) {
    auto r = parse_state(doc);
    EXPECT_FALSE(r.ok()) << "accepted: " << doc;
    EXPECT_TRUE(r.routes.empty());
  }
}

TEST(StateJson, RejectsRawControlCharacterInString) {
  std::string doc = R"({"version":1,"routes":[{"name":"a~","weights":{"p":1},"operator_set":false,)"
                    R"("rollbacks":[],"rollout":null}]})";
  ASSERT_TRUE(parse_state(doc).ok());
  doc[doc.find('~')] = '\x01';
  EXPECT_FALSE(parse_state(doc).ok());
}

TEST(StateJson, DeepNestingDoesNotRecurseUnbounded) {
  std::string deep(1000000, '[');
  auto r = parse_state(deep);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("deep"), std::string::npos) << r.error;
}

TEST(StateJson, ErrorNamesTheOffset) {
  auto r = parse_state(
      R"({"version":1,"routes":[{"name":"a","weights":{"p":1},"operator_set":false,"rollbacks":[],"rollout":nul}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.rfind("offset 99: ", 0), 0u) << r.error;
}

}  // namespace
}  // namespace sluice::routing
