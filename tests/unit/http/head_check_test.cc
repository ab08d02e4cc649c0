// check_request_head and response_framing (proxy/http/headers.h): the request
// checks llhttp leaves to the proxy and the choice of response framing, each
// on heads parsed by the real Parser.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxy/http/headers.h"
#include "tests/unit/http/parsed.h"

namespace sluice::http {
namespace {

constexpr size_t kUri = 64;
constexpr uint64_t kBody = 1000;

// The check's result and the parsed head its host view points into.
struct Checked {
  std::unique_ptr<Parsed> parsed;
  HeadCheck c;
  int status() const { return c.status; }
};

Checked check(const std::string& raw) {
  Checked r{std::make_unique<Parsed>(Parser::Kind::Request, raw), {}};
  EXPECT_TRUE(r.parsed->ok()) << r.parsed->error() << " for " << raw;
  r.c = check_request_head(r.parsed->head(), r.parsed->base(), kUri, kBody);
  return r;
}

TEST(CheckRequestHead, AcceptsAnOrdinaryRequest) {
  Checked c = check("GET /a?b HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(c.status(), 0);
  EXPECT_EQ(c.c.host, "example.com");
  EXPECT_FALSE(c.c.expect_continue);
}

TEST(CheckRequestHead, Http10MayOmitHostButNotRepeatIt) {
  EXPECT_EQ(check("GET / HTTP/1.0\r\n\r\n").status(), 0);
  Checked c = check("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_EQ(c.status(), 400);
  EXPECT_STREQ(c.c.reason, "several Host headers");
}

TEST(CheckRequestHead, Http11NeedsExactlyOneHost) {
  Checked missing = check("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(missing.status(), 400);
  EXPECT_STREQ(missing.c.reason, "missing Host header");
  EXPECT_EQ(check("GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n").status(), 400);
}

TEST(CheckRequestHead, TargetMustBeOriginForm) {
  Checked abs = check("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(abs.status(), 400);
  EXPECT_STREQ(abs.c.reason, "request target is not in origin form");
  EXPECT_EQ(check("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").status(), 0);
  EXPECT_EQ(check("GET * HTTP/1.1\r\nHost: a\r\n\r\n").status(), 400);
}

TEST(CheckRequestHead, ControlCharactersInTheTargetAre400) {
  // llhttp passes a form feed or a tab in the target (found by tests/fuzz): it went
  // upstream and into the HTTPS redirect's Location.
  int reached = 0;
  for (const char* raw :
       {"GET /a\fb HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    Parsed p(Parser::Kind::Request, raw);
    if (!p.ok()) continue;  // refused by the parser already: as good
    ++reached;
    HeadCheck c = check_request_head(p.head(), p.base(), kUri, kBody);
    EXPECT_EQ(c.status, 400) << raw;
    EXPECT_STREQ(c.reason, "control character in the request target") << raw;
  }
  EXPECT_GE(reached, 1) << "the parser refuses every case: this test checks nothing";
  // Bytes over 0x7f (raw UTF-8 in paths) are left to the upstream, as nginx does.
  EXPECT_EQ(check("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n").status(), 0);
}

TEST(CheckRequestHead, LongTargetIs414BeforeOtherChecks) {
  std::string url(kUri + 1, 'a');
  url[0] = '/';
  EXPECT_EQ(check("GET " + url + " HTTP/1.1\r\n\r\n").status(), 414);  // no Host either
  url.pop_back();
  EXPECT_EQ(check("GET " + url + " HTTP/1.1\r\nHost: a\r\n\r\n").status(), 0);
}

TEST(CheckRequestHead, ConnectIs405) {
  Checked c = check("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  EXPECT_EQ(c.status(), 405);
}

TEST(CheckRequestHead, ExpectOnlyAs100Continue) {
  Checked ok =
      check("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  EXPECT_EQ(ok.status(), 0);
  EXPECT_TRUE(ok.c.expect_continue);
  Checked bad = check("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n");
  EXPECT_EQ(bad.status(), 417);
  // 417 comes from the header loop, before the Host count is known.
  EXPECT_EQ(check("POST / HTTP/1.1\r\nExpect: x\r\n\r\n").status(), 417);
}

TEST(CheckRequestHead, BodyOverTheLimitIs413) {
  EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n").status(), 0);
  Checked c = check("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(c.status(), 413);
  EXPECT_STREQ(c.c.reason, "request body over max_body_bytes");
}

Framing framing(const std::string& raw, bool head_request = false, bool http10 = false,
                bool upgrade = false) {
  Parsed p(Parser::Kind::Response, raw);
  EXPECT_TRUE(p.ok()) << p.error() << " for " << raw;
  return response_framing(p.head(), head_request, http10, upgrade);
}

TEST(ResponseFraming, KeepsALengthAndRechunksTheRest) {
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), Framing::Length);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Framing::Chunked);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\n\r\n"), Framing::Chunked);  // read to EOF upstream
}

TEST(ResponseFraming, Http10ClientsGetCloseDelimitedBodies) {
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true),
            Framing::Close);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, true), Framing::Length);
}

TEST(ResponseFraming, BodilessResponsesKeepOnlyTheirLength) {
  EXPECT_EQ(framing("HTTP/1.1 204 No Content\r\n\r\n"), Framing::None);
  EXPECT_EQ(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"), Framing::Length);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true), Framing::None);
}

TEST(ResponseFraming, UpgradeIsATunnel) {
  EXPECT_EQ(framing("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: upgrade\r\n\r\n",
                    false, false, true),
            Framing::None);
}

}  // namespace
}  // namespace sluice::http
