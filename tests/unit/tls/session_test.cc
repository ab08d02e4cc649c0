// Session: data transfer, backpressure, EOF, close_notify, counters, threads.
#include "tls/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/unit/tls/client.h"
#include "tests/unit/tls/fixture.h"

namespace sluice::tls {
namespace {

using testing::ClientOptions;
using testing::connect;
using testing::options;
using testing::pki;
using testing::Wire;

std::shared_ptr<const ServerContext> context() {
  const auto& p = pki();
  return testing::build_or_die(options({{p.rsa_cert, p.rsa_key}, {p.ec_cert, p.ec_key}}));
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Writes all of `data` from `from`, shuttling ciphertext to `to` in `feed`-byte
// pieces, and returns what `to` read. Checks the output limit is honoured.
std::string transfer(Session& from, Session& to, const std::string& data, size_t feed) {
  std::string received;
  size_t sent = 0;
  std::vector<char> wire(feed);
  char plain[3000];
  while (sent < data.size() || from.pending_output() > 0) {
    if (sent < data.size()) {
      IoResult r = from.write(data.data() + sent, data.size() - sent);
      EXPECT_EQ(r.status, Status::Ok);
      if (r.status != Status::Ok) break;
      sent += r.bytes;
      // At most one record past the limit (the one that crossed it).
      EXPECT_LE(from.pending_output(), from.output_limit() + 16384 + 256);
    }
    while (from.pending_output() > 0) {
      size_t n = from.read_output(wire.data(), wire.size());
      to.feed(wire.data(), n);
      for (;;) {
        IoResult r = to.read(plain, sizeof plain);
        if (r.status != Status::Ok) {
          EXPECT_EQ(r.status, Status::WantInput);
          break;
        }
        received.append(plain, r.bytes);
      }
    }
  }
  return received;
}

class LargeTransferTest : public ::testing::TestWithParam<int> {};

TEST_P(LargeTransferTest, OneMebibyteEachWayInSmallFeeds) {
  auto ctx = context();
  ClientOptions o;
  o.min_version = o.max_version = GetParam();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  s->set_output_limit(32 * 1024);
  c->set_output_limit(20 * 1000);
  const std::string up = pattern(1 << 20, 1), down = pattern(1 << 20, 2);
  std::string got = transfer(*c, *s, up, 1000);
  EXPECT_TRUE(got == up) << "client->server mismatch, got " << got.size() << " bytes";
  got = transfer(*s, *c, down, 1337);
  EXPECT_TRUE(got == down) << "server->client mismatch, got " << got.size() << " bytes";
  EXPECT_EQ(s->pending_output(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tls12And13, LargeTransferTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), [](const auto& info) {
                           return info.param == TLS1_3_VERSION ? "TLS13" : "TLS12";
                         });

TEST(Session, HandshakeByteByByte) {
  auto ctx = context();
  auto c = testing::make_client({});
  auto s = Session::server(ctx);
  Wire w;
  testing::pump(*c, *s, &w, 1);
  EXPECT_TRUE(c->handshake_done());
  EXPECT_TRUE(s->handshake_done());
}

TEST(Session, WriteBeforeHandshakeIsRefusedAndOutputLimitBackpressures) {
  auto ctx = context();
  auto c = testing::make_client({});
  auto s = Session::server(ctx);
  EXPECT_EQ(s->write("x").status, Status::WantInput);
  EXPECT_EQ(s->pending_output(), 0u);
  Wire w;
  testing::pump(*c, *s, &w);
  ASSERT_TRUE(s->handshake_done());

  s->set_output_limit(1);
  std::string big(100000, 'x');
  IoResult r = s->write(big);
  EXPECT_EQ(r.status, Status::Ok);
  EXPECT_EQ(r.bytes, 16384u);  // one record, then the limit stops it
  r = s->write(big);
  EXPECT_EQ(r.status, Status::Ok);
  EXPECT_EQ(r.bytes, 0u);  // still full: wait for the socket
  std::string out;
  s->take_output(&out);
  EXPECT_GT(out.size(), 16384u);
  EXPECT_EQ(s->pending_output(), 0u);
  EXPECT_EQ(s->write(big).bytes, 16384u);
}

TEST(Session, TakeOutputRecyclesTheCallersBuffer) {
  auto ctx = context();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect({}, ctx, &c, &s));
  std::string buf;
  buf.reserve(4096);
  ASSERT_EQ(s->write("hello").bytes, 5u);
  size_t pending = s->pending_output();
  const char* before = buf.data();
  s->take_output(&buf);
  EXPECT_EQ(buf.size(), pending);
  EXPECT_NE(buf.data(), before);  // got the session's bytes, not a copy into ours
  c->feed(buf.data(), buf.size());
  char plain[16];
  IoResult r = c->read(plain, sizeof plain);
  ASSERT_EQ(r.status, Status::Ok);
  EXPECT_EQ(std::string(plain, r.bytes), "hello");
  // The old 4 KiB buffer now backs the session's next output.
  ASSERT_EQ(s->write("again").bytes, 5u);
  std::string second = s->take_output();
  c->feed(second.data(), second.size());
  r = c->read(plain, sizeof plain);
  ASSERT_EQ(r.status, Status::Ok);
  EXPECT_EQ(std::string(plain, r.bytes), "again");
}

TEST(Session, PeerVanishesMidHandshake) {
  auto ctx = context();
  uint64_t failed = ctx->counters().failed.load();
  auto c = testing::make_client({});
  auto s = Session::server(ctx);
  ASSERT_EQ(c->handshake().status, Status::WantInput);
  std::string hello = c->take_output();
  ASSERT_GT(hello.size(), 20u);
  s->feed(hello.data(), hello.size() / 2);  // half a ClientHello
  char buf[64];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::WantInput);
  s->feed_eof();
  IoResult r = s->read(buf, sizeof buf);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(s->error(), "tls handshake: peer closed the connection");
  EXPECT_TRUE(s->failed());
  EXPECT_EQ(ctx->counters().failed.load(), failed + 1);
  // Further calls stay failed and do nothing.
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Error);
  EXPECT_EQ(s->write("x").status, Status::Error);
  s->shutdown();
  EXPECT_EQ(ctx->counters().failed.load(), failed + 1);
}

TEST(Session, PeerVanishesAfterServerHello) {
  auto ctx = context();
  auto c = testing::make_client({});
  auto s = Session::server(ctx);
  ASSERT_EQ(c->handshake().status, Status::WantInput);
  std::string hello = c->take_output();
  s->feed(hello.data(), hello.size());
  char buf[64];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::WantInput);
  EXPECT_GT(s->pending_output(), 0u);  // ServerHello...Finished
  s->feed_eof();
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Error);
  EXPECT_EQ(s->error(), "tls handshake: peer closed the connection");
}

TEST(Session, ConnectAndLeaveIsNotCountedAsFailure) {
  auto ctx = context();
  uint64_t failed = ctx->counters().failed.load();
  auto s = Session::server(ctx);
  s->feed_eof();
  char buf[8];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Error);
  EXPECT_EQ(s->error(), "tls handshake: peer closed the connection before sending anything");
  EXPECT_EQ(ctx->counters().failed.load(), failed);
}

TEST(Session, TruncatedRecordAfterHandshakeIsClosed) {
  auto ctx = context();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect({}, ctx, &c, &s));
  ASSERT_EQ(c->write("partial").bytes, 7u);
  std::string rec = c->take_output();
  s->feed(rec.data(), rec.size() - 3);  // the connection drops mid-record
  s->feed_eof();
  char buf[16];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Closed);
  EXPECT_FALSE(s->close_notify_received());
}

TEST(Session, DestroyedMidHandshakeIsClean) {
  auto ctx = context();
  auto c = testing::make_client({});
  auto s = Session::server(ctx);
  ASSERT_EQ(c->handshake().status, Status::WantInput);
  std::string hello = c->take_output();
  s->feed(hello.data(), hello.size());
  char buf[64];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::WantInput);
  s.reset();  // the proxy closing an abandoned connection (header timeout)
  c.reset();
  SUCCEED();
}

TEST(Session, GarbageIsAnError) {
  auto ctx = context();
  auto s = Session::server(ctx);
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";  // plain HTTP on the TLS port
  s->feed(req, sizeof req - 1);
  char buf[64];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Error);
  EXPECT_EQ(s->error(), "tls handshake: http request");
}

TEST(Session, CloseNotifyBothWays) {
  auto ctx = context();
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ClientOptions o;
    o.min_version = o.max_version = v;
    std::unique_ptr<Session> c, s;
    Wire w;
    ASSERT_TRUE(connect(o, ctx, &c, &s, &w));
    c->write("last request");
    c->shutdown();
    testing::pump(*c, *s, &w);
    EXPECT_EQ(w.server_received, "last request");  // data before close_notify is delivered
    EXPECT_EQ(w.server_status, Status::Closed);
    EXPECT_TRUE(s->close_notify_received());
    EXPECT_EQ(s->write("too late").status, Status::Closed);
    s->shutdown();
    EXPECT_GT(s->pending_output(), 0u);
    testing::pump(*c, *s, &w);
    EXPECT_EQ(w.client_status, Status::Closed);
    EXPECT_TRUE(c->close_notify_received());
    char buf[8];
    EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Closed);
  }
}

TEST(Session, EofAfterHandshakeWithoutCloseNotifyIsClosed) {
  auto ctx = context();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect({}, ctx, &c, &s));
  s->feed_eof();
  char buf[8];
  EXPECT_EQ(s->read(buf, sizeof buf).status, Status::Closed);
  EXPECT_FALSE(s->close_notify_received());
  EXPECT_FALSE(s->failed());
}

TEST(Session, ShutdownBeforeHandshakeQueuesNothing) {
  auto ctx = context();
  auto s = Session::server(ctx);
  s->shutdown();
  EXPECT_EQ(s->pending_output(), 0u);
}

TEST(Session, HandshakeCounters) {
  auto counters = std::make_shared<HandshakeCounters>();
  const auto& p = pki();
  auto o = options({{p.rsa_cert, p.rsa_key}});
  o.counters = counters;
  auto ctx = testing::build_or_die(o);
  std::unique_ptr<Session> c, s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connect({}, ctx, &c, &s));
  EXPECT_EQ(counters->full.load(), 3u);
  EXPECT_EQ(counters->resumed.load(), 0u);
  EXPECT_EQ(counters->failed.load(), 0u);
  // The counters object outlives a reload: a new context keeps counting into it.
  auto ctx2 = testing::build_or_die(o);
  ASSERT_TRUE(connect({}, ctx2, &c, &s));
  EXPECT_EQ(counters->full.load(), 4u);
  EXPECT_EQ(&ctx2->counters(), counters.get());
}

TEST(Session, ConcurrentHandshakesOnOneSharedContext) {
  auto ctx = context();
  uint64_t before = ctx->counters().full.load();
  constexpr int kThreads = 4, kEach = 15;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        ClientOptions o;
        o.sni = (i + t) % 2 ? "example.com" : "";
        std::unique_ptr<Session> c, s;
        Wire w;
        if (!connect(o, ctx, &c, &s, &w)) continue;
        c->write("ping");
        testing::pump(*c, *s, &w);
        if (w.server_received == "ping") ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(ctx->counters().full.load(), before + kThreads * kEach);
}

TEST(Session, ReloadKeepsOldConnectionsAlive) {
  auto ctx = context();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect({}, ctx, &c, &s));
  ctx.reset();  // the proxy swapped in a new context; this connection holds the old one
  Wire w;
  c->write("still here");
  testing::pump(*c, *s, &w);
  EXPECT_EQ(w.server_received, "still here");
}

}  // namespace
}  // namespace sluice::tls
