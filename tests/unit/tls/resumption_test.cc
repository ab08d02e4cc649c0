// Session resumption: tickets shared across workers' contexts, key rotation,
// the TLS 1.2 session-id cache.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <thread>

#include "tests/unit/tls/client.h"
#include "tests/unit/tls/fixture.h"
#include "tls/session.h"

namespace sluice::tls {
namespace {

using testing::ClientOptions;
using testing::connect;
using testing::options;
using testing::pki;

struct SessionRef {
  SSL_SESSION* s = nullptr;
  ~SessionRef() { SSL_SESSION_free(s); }
};

// A full handshake, returning the client's resumable session.
SSL_SESSION* first_visit(const ClientOptions& o, const std::shared_ptr<const ServerContext>& ctx) {
  std::unique_ptr<Session> c, s;
  if (!connect(o, ctx, &c, &s) || s->resumed()) return nullptr;
  SSL_SESSION* sess = SSL_get1_session(c->native());
  if (sess && !SSL_SESSION_is_resumable(sess)) {
    SSL_SESSION_free(sess);
    return nullptr;
  }
  return sess;
}

bool revisit(ClientOptions o, SSL_SESSION* sess, const std::shared_ptr<const ServerContext>& ctx,
             SSL_SESSION** renewed = nullptr) {
  o.session = sess;
  std::unique_ptr<Session> c, s;
  if (!connect(o, ctx, &c, &s)) return false;
  EXPECT_EQ(c->resumed(), s->resumed());
  if (renewed) *renewed = SSL_get1_session(c->native());
  return s->resumed();
}

ServerOptions worker_options(std::shared_ptr<TicketKeys> keys,
                             std::shared_ptr<HandshakeCounters> counters) {
  const auto& p = pki();
  auto o = options({{p.rsa_cert, p.rsa_key}, {p.ec_cert, p.ec_key}});
  o.ticket_keys = std::move(keys);
  o.counters = std::move(counters);
  return o;
}

class TicketTest : public ::testing::TestWithParam<int> {
 protected:
  ClientOptions client() const {
    ClientOptions o;
    o.min_version = o.max_version = GetParam();
    o.sni = "example.com";
    return o;
  }
};

TEST_P(TicketTest, ResumesAcrossContextsSharingKeys) {
  auto keys = TicketKeys::create();
  auto counters = std::make_shared<HandshakeCounters>();
  // Two workers (or two reload generations) build their own contexts.
  auto worker1 = testing::build_or_die(worker_options(keys, counters));
  auto worker2 = testing::build_or_die(worker_options(keys, counters));
  SessionRef t;
  t.s = first_visit(client(), worker1);
  ASSERT_NE(t.s, nullptr);
  EXPECT_TRUE(revisit(client(), t.s, worker2));
  EXPECT_EQ(counters->full.load(), 1u);
  EXPECT_EQ(counters->resumed.load(), 1u);

  // A context with its own keys cannot read the ticket: full handshake, no error.
  auto stranger = testing::build_or_die(worker_options(nullptr, counters));
  EXPECT_FALSE(revisit(client(), t.s, stranger));
  EXPECT_EQ(counters->full.load(), 2u);
  EXPECT_EQ(counters->failed.load(), 0u);
}

TEST_P(TicketTest, OldKeyAcceptedAfterOneRotationRefusedAfterTwo) {
  auto keys = TicketKeys::create();
  auto ctx = testing::build_or_die(worker_options(keys, nullptr));
  SessionRef t;
  t.s = first_visit(client(), ctx);
  ASSERT_NE(t.s, nullptr);

  ASSERT_TRUE(keys->rotate());
  SessionRef renewed;
  EXPECT_TRUE(revisit(client(), t.s, ctx, &renewed.s));  // previous key still decrypts

  ASSERT_TRUE(keys->rotate());
  EXPECT_FALSE(revisit(client(), t.s, ctx));  // two rotations old: full handshake
  EXPECT_EQ(keys->generation(), 2u);
  // The ticket re-issued under the first rotation's key is still one rotation old.
  ASSERT_NE(renewed.s, nullptr);
  EXPECT_TRUE(revisit(client(), renewed.s, ctx));
  EXPECT_EQ(ctx->counters().failed.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tls12And13, TicketTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) {
                           return info.param == TLS1_3_VERSION ? "TLS13" : "TLS12";
                         });

TEST(SessionCache, Tls12SessionIdResumptionWithoutTickets) {
  auto ctx = testing::build_or_die(worker_options(nullptr, nullptr));
  ClientOptions o;
  o.max_version = TLS1_2_VERSION;
  o.no_ticket = true;
  SessionRef t;
  t.s = first_visit(o, ctx);
  ASSERT_NE(t.s, nullptr);
  unsigned int id_len = 0;
  SSL_SESSION_get_id(t.s, &id_len);
  EXPECT_GT(id_len, 0u);
  EXPECT_TRUE(revisit(o, t.s, ctx));
  // The cache lives in the context: another context (another reload) does not know the id.
  auto other = testing::build_or_die(worker_options(nullptr, nullptr));
  EXPECT_FALSE(revisit(o, t.s, other));
}

TEST(SessionCache, ConnectionDroppedWithoutCloseNotifyStaysResumable) {
  auto ctx = testing::build_or_die(worker_options(nullptr, nullptr));
  ClientOptions o;
  o.max_version = TLS1_2_VERSION;
  o.no_ticket = true;
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  SessionRef t;
  t.s = SSL_get1_session(c->native());
  s->feed_eof();
  char buf[4];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Closed);
  s.reset();  // no close_notify either way
  EXPECT_TRUE(revisit(o, t.s, ctx));
}

TEST(TicketKeys, RotationKeepsExactlyOnePreviousKey) {
  auto keys = TicketKeys::create();
  ASSERT_NE(keys, nullptr);
  auto g0 = keys->snapshot();
  EXPECT_FALSE(g0->has_previous);
  bool current = false;
  EXPECT_EQ(g0->find(g0->current.name, &current), &g0->current);
  EXPECT_TRUE(current);
  ASSERT_TRUE(keys->rotate());
  auto g1 = keys->snapshot();
  EXPECT_EQ(g1->find(g0->current.name, &current), &g1->previous);
  EXPECT_FALSE(current);
  ASSERT_TRUE(keys->rotate());
  auto g2 = keys->snapshot();
  EXPECT_EQ(g2->find(g0->current.name, &current), nullptr);
  EXPECT_NE(g2->find(g1->current.name, &current), nullptr);
  // Snapshots taken earlier stay intact (immutable sets).
  EXPECT_EQ(g0->find(g0->current.name, &current), &g0->current);
}

TEST(TicketKeys, RotateWhileHandshaking) {
  auto keys = TicketKeys::create();
  auto ctx = testing::build_or_die(worker_options(keys, nullptr));
  std::atomic<bool> stop{false};
  std::thread rotator([&] {
    while (!stop.load()) {
      keys->rotate();
      std::this_thread::yield();
    }
  });
  int done = 0;
  for (int i = 0; i < 20; ++i) {
    ClientOptions o;
    SessionRef t;
    t.s = first_visit(o, ctx);
    if (t.s) {
      revisit(o, t.s, ctx);  // may or may not resume, must never fail
      ++done;
    }
  }
  stop = true;
  rotator.join();
  EXPECT_EQ(done, 20);
  EXPECT_EQ(ctx->counters().failed.load(), 0u);
}

}  // namespace
}  // namespace sluice::tls
