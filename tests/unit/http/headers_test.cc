// Header tokens and the two head rewrites (proxy/http/headers.h).
//
// Heads are produced by the real Parser from raw bytes, then rewritten; the
// rewrites are compared byte for byte with what sluice must send.
#include "proxy/http/headers.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/parser.h"
#include "tests/unit/http/parsed.h"

namespace sluice::http {
namespace {

// Built with append: GCC 12 at -O3 warns falsely (-Wrestrict, PR 105329) on "lit" + std::string.
std::string cat(std::string_view a, std::string_view b, std::string_view c = {},
                std::string_view d = {}) {
  std::string s(a);
  s.append(b).append(c).append(d);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string alternate_case(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    out[i] = static_cast<char>(i % 2 == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

ForwardContext fwd() {
  ForwardContext c;
  c.client_ip = "203.0.113.7";
  c.proto = "https";
  c.request_id = "0123456789abcdef0123456789abcdef";
  return c;
}

std::string upstream(const std::string& raw, const ForwardContext& ctx) {
  Parsed p(Parser::Kind::Request, raw);
  EXPECT_TRUE(p.ok()) << p.error();
  std::string out = "[prefix kept]";  // output is appended, never assigned
  build_upstream_request(out, p.head(), p.base(), ctx);
  EXPECT_EQ(out.substr(0, 13), "[prefix kept]");
  return out.substr(13);
}

constexpr std::string_view kSecPlain =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: SAMEORIGIN\r\n"
    "Referrer-Policy: strict-origin-when-cross-origin\r\n";
constexpr std::string_view kHsts = "Strict-Transport-Security: max-age=63072000\r\n";

ResponsePolicy policy() {
  ResponsePolicy p;
  p.set_lines_plain = std::string(kSecPlain);
  p.set_lines_tls = cat(kSecPlain, kHsts);
  p.drop = {"server",          "x-powered-by",    "x-content-type-options",
            "x-frame-options", "referrer-policy", "strict-transport-security"};
  return p;
}

ResponseContext rctx() {
  ResponseContext c;
  c.request_id = "fedcba9876543210fedcba9876543210";
  return c;
}

std::string downstream(const std::string& raw, const ResponseContext& ctx,
                       const ResponsePolicy& pol = policy()) {
  Parsed p(Parser::Kind::Response, raw);
  EXPECT_TRUE(p.ok()) << p.error();
  std::string out = "[prefix kept]";
  build_downstream_response(out, p.head(), p.base(), pol, ctx);
  EXPECT_EQ(out.substr(0, 13), "[prefix kept]");
  return out.substr(13);
}

// ------------------------------------------------------------------- tokens

struct Named {
  std::string_view name;
  Tok tok;
};

constexpr Named kTokens[] = {
    {"host", Tok::Host},
    {"connection", Tok::Connection},
    {"keep-alive", Tok::KeepAlive},
    {"proxy-connection", Tok::ProxyConnection},
    {"te", Tok::Te},
    {"trailer", Tok::Trailer},
    {"transfer-encoding", Tok::TransferEncoding},
    {"upgrade", Tok::Upgrade},
    {"content-length", Tok::ContentLength},
    {"expect", Tok::Expect},
    {"x-forwarded-for", Tok::XForwardedFor},
    {"x-forwarded-proto", Tok::XForwardedProto},
    {"x-forwarded-host", Tok::XForwardedHost},
    {"x-real-ip", Tok::XRealIp},
    {"x-request-id", Tok::XRequestId},
    {"cookie", Tok::Cookie},
};

TEST(Classify, EveryTokenInAnyCase) {
  for (const Named& n : kTokens) {
    SCOPED_TRACE(n.name);
    EXPECT_EQ(classify(n.name), n.tok);
    EXPECT_EQ(classify(upper(n.name)), n.tok);
    EXPECT_EQ(classify(alternate_case(n.name)), n.tok);
    std::string canonical(n.name);  // "X-Forwarded-For" style
    bool start = true;
    for (char& c : canonical) {
      if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = c == '-';
    }
    EXPECT_EQ(classify(canonical), n.tok);
  }
  EXPECT_EQ(classify("TE"), Tok::Te);
  EXPECT_EQ(classify("X-Real-IP"), Tok::XRealIp);
}

TEST(Classify, NearMissesAreOther) {
  for (std::string_view s : {"",
                             "h",
                             "hostx",
                             "hos",
                             "ho st",
                             "xhost",
                             "content-lengt",
                             "content-lengths",
                             "content_length",
                             "x-forwarded-fo",
                             "x-forwarded-form",
                             "x-real-iq",
                             "x-request-ids",
                             "cookie2",
                             "set-cookie",
                             "tf",
                             "keepalive",
                             "keep alive",
                             "upgrades",
                             "trailers",
                             "transfer_encoding",
                             "x-forwarded-prot",
                             "proxy-connectio",
                             "expects",
                             "content-type",
                             "accept",
                             "authorization"}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(classify(s), Tok::Other);
  }
}

TEST(Classify, HopByHopIsExactlyTheRfc9110Set) {
  EXPECT_TRUE(is_hop_by_hop(Tok::Connection));
  EXPECT_TRUE(is_hop_by_hop(Tok::KeepAlive));
  EXPECT_TRUE(is_hop_by_hop(Tok::ProxyConnection));
  EXPECT_TRUE(is_hop_by_hop(Tok::Te));
  EXPECT_TRUE(is_hop_by_hop(Tok::Trailer));
  EXPECT_TRUE(is_hop_by_hop(Tok::TransferEncoding));
  EXPECT_TRUE(is_hop_by_hop(Tok::Upgrade));
  for (Tok t :
       {Tok::Other, Tok::Host, Tok::ContentLength, Tok::Expect, Tok::XForwardedFor,
        Tok::XForwardedProto, Tok::XForwardedHost, Tok::XRealIp, Tok::XRequestId, Tok::Cookie}) {
    EXPECT_FALSE(is_hop_by_hop(t)) << static_cast<int>(t);
  }
}

TEST(Tokens, Iequals) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("a-b", "a_b"));
  EXPECT_FALSE(iequals("[", "{"));  // 0x5b vs 0x7b: only letters fold
}

TEST(Tokens, ListHasToken) {
  EXPECT_TRUE(list_has_token("close", "close"));
  EXPECT_TRUE(list_has_token("Close", "close"));
  EXPECT_TRUE(list_has_token("keep-alive, Close", "close"));
  EXPECT_TRUE(list_has_token("keep-alive,close", "CLOSE"));
  EXPECT_TRUE(list_has_token(" \tclose\t ,x", "close"));
  EXPECT_TRUE(list_has_token(",,close,,", "close"));
  EXPECT_TRUE(list_has_token("a, b, upgrade", "Upgrade"));
  EXPECT_FALSE(list_has_token("closed", "close"));
  EXPECT_FALSE(list_has_token("enclose", "close"));
  EXPECT_FALSE(list_has_token("clo se", "close"));
  EXPECT_FALSE(list_has_token("", "close"));
  EXPECT_FALSE(list_has_token(" , ,", "close"));
  EXPECT_FALSE(list_has_token("keep-alive", "close"));
}

TEST(Tokens, ConnectionTokens) {
  ConnectionTokens c;
  c.add_list("close, X-Foo,\tkeep-alive , Upgrade");
  c.add_list("x-bar,,");
  EXPECT_TRUE(c.close);
  EXPECT_TRUE(c.keep_alive);
  EXPECT_TRUE(c.upgrade);
  ASSERT_EQ(c.count, 2u);
  EXPECT_EQ(c.names[0], "X-Foo");
  EXPECT_EQ(c.names[1], "x-bar");
  EXPECT_TRUE(c.names_header("x-foo"));
  EXPECT_TRUE(c.names_header("X-BAR"));
  EXPECT_FALSE(c.names_header("X-Baz"));
  EXPECT_FALSE(c.names_header("close"));
  EXPECT_FALSE(c.names_header("X-Fo"));

  ConnectionTokens d;
  d.add_list("Keep-Alive");
  EXPECT_FALSE(d.close);
  EXPECT_TRUE(d.keep_alive);
  EXPECT_FALSE(d.upgrade);
  EXPECT_EQ(d.count, 0u);
}

TEST(Tokens, ConnectionTokensAreCapped) {
  std::string list;
  for (int i = 0; i < 20; ++i) list += "x-h" + std::to_string(i) + ",";
  list += "close";
  ConnectionTokens c;
  c.add_list(list);
  EXPECT_EQ(c.count, ConnectionTokens::kMax);
  EXPECT_TRUE(c.names_header("X-H0"));
  EXPECT_TRUE(c.names_header("x-h15"));
  EXPECT_FALSE(c.names_header("x-h16"));  // past the cap
  EXPECT_TRUE(c.close);                   // flags still seen past the cap
}

// ------------------------------------------------------ upstream request head

TEST(UpstreamRequest, PlainGet) {
  std::string got = upstream(
      "GET /path?q=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: curl/8.0\r\n"
      "Accept: */*\r\n"
      "\r\n",
      fwd());
  EXPECT_EQ(got,
            "GET /path?q=1 HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "User-Agent: curl/8.0\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: example.com\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "\r\n");
}

TEST(UpstreamRequest, MethodUrlAndHeaderCasePreserved) {
  ForwardContext c = fwd();
  c.proto = "http";
  std::string got = upstream(
      "PATCH /a%20b/c?x=%2F&y HTTP/1.1\r\n"
      "hOsT: Example.COM:8080\r\n"
      "content-type: application/json\r\n"
      "Content-Length: 2\r\n"
      "\r\n{}",
      c);
  EXPECT_EQ(got,
            "PATCH /a%20b/c?x=%2F&y HTTP/1.1\r\n"
            "hOsT: Example.COM:8080\r\n"
            "content-type: application/json\r\n"
            "Content-Length: 2\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: Example.COM:8080\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "\r\n");
}

TEST(UpstreamRequest, ForwardedForAppendedToExistingLinesInOrder) {
  std::string got = upstream(
      "GET / HTTP/1.1\r\n"
      "X-Forwarded-For: 192.0.2.1\r\n"
      "Host: h\r\n"
      "x-forwarded-for: 192.0.2.2, 192.0.2.3\r\n"
      "Accept: */*\r\n"
      "X-FORWARDED-FOR: 2001:db8::4\r\n"
      "\r\n",
      fwd());
  EXPECT_EQ(got,
            "GET / HTTP/1.1\r\n"
            "Host: h\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 192.0.2.1, 192.0.2.2, 192.0.2.3, 2001:db8::4, 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: h\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "\r\n");
}

TEST(UpstreamRequest, ClientSuppliedForwardingHeadersAreReplaced) {
  // A client cannot choose what the upstream believes about it.
  ForwardContext c = fwd();
  c.request_id = "kept-from-client-or-generated";
  std::string got = upstream(
      "GET / HTTP/1.1\r\n"
      "Host: h\r\n"
      "X-Real-IP: 10.0.0.1\r\n"
      "X-Forwarded-Proto: https\r\n"
      "X-Forwarded-Host: evil.example\r\n"
      "X-Request-Id: client-id\r\n"
      "x-request-id: second\r\n"
      "\r\n",
      c);
  EXPECT_EQ(got,
            "GET / HTTP/1.1\r\n"
            "Host: h\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: h\r\n"
            "X-Request-Id: kept-from-client-or-generated\r\n"
            "\r\n");
}

TEST(UpstreamRequest, HopByHopAndConnectionNamedHeadersRemoved) {
  std::string got = upstream(
      "GET / HTTP/1.1\r\n"
      "Host: h\r\n"
      "Connection: keep-alive, X-Secret, x-other\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Trailer: X-Checksum\r\n"
      "Upgrade: h2c\r\n"
      "X-Secret: s\r\n"
      "X-Keep: k\r\n"
      "X-OTHER: o\r\n"
      "Expect: 100-continue\r\n"
      "\r\n",
      fwd());
  EXPECT_EQ(got,
            "GET / HTTP/1.1\r\n"
            "Host: h\r\n"
            "X-Keep: k\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: h\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "\r\n");
}

TEST(UpstreamRequest, ConnectionNamedHeaderBeforeConnectionIsRemovedToo) {
  std::string got = upstream(
      "GET / HTTP/1.1\r\n"
      "X-Secret: s\r\n"
      "Host: h\r\n"
      "Connection: X-Secret\r\n"
      "\r\n",
      fwd());
  EXPECT_EQ(got.find("X-Secret"), std::string::npos) << got;
  EXPECT_EQ(got.find("Connection"), std::string::npos) << got;
}

TEST(UpstreamRequest, ChunkedRequestBodyReframed) {
  ForwardContext c = fwd();
  c.chunked_body = true;
  std::string got = upstream(
      "POST /up HTTP/1.1\r\n"
      "Host: h\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n",
      c);
  EXPECT_EQ(got,
            "POST /up HTTP/1.1\r\n"
            "Host: h\r\n"
            "Content-Type: text/plain\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: h\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n");
}

TEST(UpstreamRequest, ContentLengthDroppedWhenSentChunked) {
  ForwardContext c = fwd();
  c.chunked_body = true;
  std::string got = upstream(
      "PUT /up HTTP/1.1\r\n"
      "Host: h\r\n"
      "Content-Length: 5\r\n"
      "\r\n",
      c);
  EXPECT_EQ(got,
            "PUT /up HTTP/1.1\r\n"
            "Host: h\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: h\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n");
  // Not chunked: the length goes through as sent.
  std::string plain = upstream("PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", fwd());
  EXPECT_NE(plain.find("\r\nContent-Length: 5\r\n"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("Transfer-Encoding"), std::string::npos) << plain;
}

TEST(UpstreamRequest, UpgradeKeepsUpgradeAndSendsConnectionUpgrade) {
  const std::string raw =
      "GET /chat HTTP/1.1\r\n"
      "Host: ws.example\r\n"
      "Upgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  ForwardContext c = fwd();
  c.upgrade = true;
  EXPECT_EQ(upstream(raw, c),
            "GET /chat HTTP/1.1\r\n"
            "Host: ws.example\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: ws.example\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "Upgrade: websocket\r\n"
            "Connection: upgrade\r\n"
            "\r\n");
  // Not tunnelled (e.g. upgrades disabled on the route): both are hop-by-hop.
  std::string plain = upstream(raw, fwd());
  EXPECT_EQ(plain.find("Upgrade:"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("Connection:"), std::string::npos) << plain;
}

TEST(UpstreamRequest, DefaultHostWhenClientSentNone) {
  ForwardContext c = fwd();
  c.default_host = "backend.internal:3000";
  EXPECT_EQ(upstream("GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n", c),
            "GET /old HTTP/1.1\r\n"
            "Accept: */*\r\n"
            "Host: backend.internal:3000\r\n"
            "X-Forwarded-For: 203.0.113.7\r\n"
            "X-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Request-Id: 0123456789abcdef0123456789abcdef\r\n"
            "\r\n");
  // A Host from the client wins over the default.
  std::string with_host = upstream("GET / HTTP/1.0\r\nHost: client.example\r\n\r\n", c);
  EXPECT_NE(with_host.find("\r\nHost: client.example\r\n"), std::string::npos) << with_host;
  EXPECT_EQ(with_host.find("backend.internal"), std::string::npos) << with_host;
  // No Host and no default: no Host line at all.
  std::string none = upstream("GET / HTTP/1.0\r\n\r\n", fwd());
  EXPECT_EQ(none.find("Host:"), std::string::npos) << none;
}

TEST(UpstreamRequest, DuplicateHostSentOnce) {
  std::string got = upstream("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", fwd());
  EXPECT_NE(got.find("\r\nHost: a.example\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("b.example"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Forwarded-Host: a.example\r\n"), std::string::npos) << got;
}

TEST(UpstreamRequest, AlwaysHttp11Upstream) {
  std::string got =
      upstream("HEAD /x HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", fwd());
  EXPECT_EQ(got.substr(0, got.find("\r\n")), "HEAD /x HTTP/1.1");
  EXPECT_EQ(got.find("Connection"), std::string::npos) << got;
  EXPECT_EQ(got.find("keep-alive"), std::string::npos) << got;
}

// ----------------------------------------------------- downstream response head

TEST(DownstreamResponse, RewritesUpstreamHead) {
  std::string got = downstream(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/html\r\n"
      "Content-Length: 5\r\n"
      "Server: node\r\n"
      "X-Powered-By: Express\r\n"
      "Connection: keep-alive, X-Internal\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Internal: 1\r\n"
      "X-Request-Id: upstream-id\r\n"
      "Set-Cookie: a=b\r\n"
      "Set-Cookie: c=d\r\n"
      "\r\n"
      "hello",
      rctx());
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/html\r\n"
                     "Content-Length: 5\r\n"
                     "Set-Cookie: a=b\r\n"
                     "Set-Cookie: c=d\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "\r\n"));
}

TEST(DownstreamResponse, AllHopByHopRemoved) {
  std::string got = downstream(
      "HTTP/1.1 200 OK\r\n"
      "Connection: close\r\n"
      "Keep-Alive: timeout=5, max=100\r\n"
      "Proxy-Connection: close\r\n"
      "TE: trailers\r\n"
      "Trailer: X-Checksum\r\n"
      "Upgrade: h2c\r\n"
      "Content-Length: 0\r\n"
      "\r\n",
      rctx());
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\n"
                     "Content-Length: 0\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "\r\n"));
}

TEST(DownstreamResponse, PolicyDropsAreCaseInsensitive) {
  std::string got = downstream(
      "HTTP/1.1 200 OK\r\n"
      "SERVER: Apache\r\n"
      "x-POWERED-by: PHP\r\n"
      "X-Frame-Options: DENY\r\n"
      "strict-transport-security: max-age=1\r\n"
      "Content-Length: 0\r\n"
      "\r\n",
      rctx());
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\n"
                     "Content-Length: 0\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "\r\n"));
}

TEST(DownstreamResponse, HstsOnlyOverTls) {
  const std::string raw = "HTTP/1.1 204 No Content\r\n\r\n";
  ResponseContext c = rctx();
  c.framing = Framing::None;
  std::string plain = downstream(raw, c);
  EXPECT_EQ(plain, cat("HTTP/1.1 204 No Content\r\n", kSecPlain,
                       "X-Request-Id: fedcba9876543210fedcba9876543210\r\n\r\n"));
  EXPECT_EQ(plain.find("Strict-Transport-Security"), std::string::npos);
  c.tls = true;
  std::string tls = downstream(raw, c);
  EXPECT_EQ(tls, cat("HTTP/1.1 204 No Content\r\n", kSecPlain, kHsts,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n\r\n"));
}

TEST(DownstreamResponse, RequestIdEchoedOnceAndUpstreamsDropped) {
  std::string got = downstream(
      "HTTP/1.1 200 OK\r\nx-request-id: up-1\r\nX-REQUEST-ID: up-2\r\nContent-Length: 0\r\n\r\n",
      rctx());
  EXPECT_EQ(got.find("up-1"), std::string::npos) << got;
  EXPECT_EQ(got.find("up-2"), std::string::npos) << got;
  size_t first = got.find("X-Request-Id: fedcba9876543210fedcba9876543210\r\n");
  EXPECT_NE(first, std::string::npos) << got;
  EXPECT_EQ(got.find("X-Request-Id", first + 1), std::string::npos) << got;
  // No id known: none sent, and the upstream's is still not leaked.
  ResponseContext c = rctx();
  c.request_id = {};
  std::string none =
      downstream("HTTP/1.1 200 OK\r\nX-Request-Id: up\r\nContent-Length: 0\r\n\r\n", c);
  EXPECT_EQ(none, cat("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", kSecPlain, "\r\n"));
}

TEST(DownstreamResponse, ConnectionHeaderForTheClient) {
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const std::string head = cat("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", kSecPlain,
                               "X-Request-Id: fedcba9876543210fedcba9876543210\r\n");
  ResponseContext c = rctx();
  EXPECT_EQ(downstream(raw, c), head + "\r\n");  // HTTP/1.1 keep-alive: implicit
  c.keep_alive = false;
  EXPECT_EQ(downstream(raw, c), head + "Connection: close\r\n\r\n");
  c.client_http10 = true;
  EXPECT_EQ(downstream(raw, c), head + "Connection: close\r\n\r\n");
  c.keep_alive = true;
  EXPECT_EQ(downstream(raw, c), head + "Connection: keep-alive\r\n\r\n");
}

TEST(DownstreamResponse, ChunkedFramingDropsContentLength) {
  ResponseContext c = rctx();
  c.framing = Framing::Chunked;
  std::string got =
      downstream("HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 10\r\n\r\n0123456789", c);
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\n"
                     "Content-Type: a/b\r\n"
                     "Transfer-Encoding: chunked\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "\r\n"));
  // Upstream already chunked: one Transfer-Encoding line, ours.
  std::string again =
      downstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", c);
  EXPECT_EQ(again, cat("HTTP/1.1 200 OK\r\n"
                       "Transfer-Encoding: chunked\r\n",
                       kSecPlain,
                       "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                       "\r\n"));
}

TEST(DownstreamResponse, CloseFramingHasNoLengthAndNoChunking) {
  ResponseContext c = rctx();
  c.framing = Framing::Close;
  c.keep_alive = false;
  c.client_http10 = true;
  std::string got = downstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", c);
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\n", kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "Connection: close\r\n"
                     "\r\n"));
}

TEST(DownstreamResponse, LengthFramingKeepsContentLength) {
  ResponseContext c = rctx();
  c.framing = Framing::Length;
  std::string got = downstream("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc", c);
  EXPECT_NE(got.find("\r\ncontent-length: 3\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("Transfer-Encoding"), std::string::npos) << got;
}

TEST(DownstreamResponse, SwitchingProtocolsKeepsUpgrade) {
  ResponseContext c = rctx();
  c.upgrade = true;
  c.framing = Framing::None;
  std::string got = downstream(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
      "\r\n",
      c);
  EXPECT_EQ(got, cat("HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "Connection: upgrade\r\n"
                     "\r\n"));
}

TEST(DownstreamResponse, ReasonFromUpstreamOrStandard) {
  ResponseContext c = rctx();
  c.request_id = {};
  ResponsePolicy bare;
  EXPECT_EQ(downstream("HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n", c, bare),
            "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(downstream("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n", c, bare),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  // A 1.0 upstream is answered as 1.1 to the client.
  EXPECT_EQ(downstream("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", c, bare),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST(DownstreamResponse, ExtraLinesAfterRequestId) {
  ResponseContext c = rctx();
  c.extra = "Set-Cookie: sluice_split=blue; Path=/; HttpOnly\r\n";
  c.keep_alive = false;
  std::string got = downstream("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", c);
  EXPECT_EQ(got, cat("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "Set-Cookie: sluice_split=blue; Path=/; HttpOnly\r\n",
                     "Connection: close\r\n\r\n"));
}

// ---------------------------------------------------------- local responses

TEST(LocalResponse, NotFoundExactBytes) {
  std::string out = "[prefix kept]";
  build_local_response(out, 404, policy(), rctx());
  EXPECT_EQ(out, cat("[prefix kept]"
                     "HTTP/1.1 404 Not Found\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 14\r\n",
                     kSecPlain,
                     "X-Request-Id: fedcba9876543210fedcba9876543210\r\n"
                     "\r\n",
                     "404 Not Found\n"));
}

TEST(LocalResponse, RedirectWithLocationOverTlsClosing) {
  ResponseContext c = rctx();
  c.tls = true;
  c.keep_alive = false;
  c.request_id = {};
  std::string out;
  build_local_response(out, 308, policy(), c, "https://example.com/path?q=1");
  EXPECT_EQ(out, cat("HTTP/1.1 308 Permanent Redirect\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 23\r\n"
                     "Location: https://example.com/path?q=1\r\n",
                     kSecPlain, kHsts,
                     "Connection: close\r\n"
                     "\r\n"
                     "308 Permanent Redirect\n"));
}

TEST(LocalResponse, ContentLengthMatchesBodyForEveryStatus) {
  for (int status : {100, 200, 204, 301, 302, 303, 307, 308, 400, 403, 404, 405, 408, 411,
                     413, 414, 417, 429, 431, 500, 501, 502, 503, 504, 505, 299, 599}) {
    SCOPED_TRACE(status);
    std::string out;
    build_local_response(out, status, policy(), rctx());
    size_t end = out.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    std::string_view body = std::string_view(out).substr(end + 4);
    EXPECT_EQ(body, cat(std::to_string(status), " ", reason_phrase(status), "\n"));
    std::string cl = cat("\r\nContent-Length: ", std::to_string(body.size()), "\r\n");
    EXPECT_NE(out.find(cl), std::string::npos) << out;
    EXPECT_EQ(out.substr(0, out.find("\r\n")),
              cat("HTTP/1.1 ", std::to_string(status), " ", reason_phrase(status)));
  }
}

TEST(LocalResponse, ParsesBackAsOneCompleteResponse) {
  ResponseContext c = rctx();
  c.keep_alive = false;
  std::string out;
  build_local_response(out, 502, policy(), c);
  Parser p(Parser::Kind::Response);
  std::vector<Slice> body;
  p.begin_message(out.data());
  Parser::Result r = p.execute(out.data(), out.size(), &body);
  ASSERT_EQ(r.event, Parser::Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, out.size());
  EXPECT_EQ(p.head().status, 502);
  EXPECT_FALSE(p.head().keep_alive);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(std::string_view(body[0].data, body[0].len), "502 Bad Gateway\n");
}

// ------------------------------------------------------------------- helpers

TEST(ReasonPhrase, KnownAndUnknown) {
  EXPECT_EQ(reason_phrase(100), "Continue");
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(301), "Moved Permanently");
  EXPECT_EQ(reason_phrase(302), "Found");
  EXPECT_EQ(reason_phrase(304), "Not Modified");
  EXPECT_EQ(reason_phrase(307), "Temporary Redirect");
  EXPECT_EQ(reason_phrase(308), "Permanent Redirect");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(408), "Request Timeout");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(414), "URI Too Long");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(299), "Unknown");
  EXPECT_EQ(reason_phrase(0), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
}

TEST(RequestId, ThirtyTwoLowerHex) {
  char id[33];
  id[32] = '!';  // never written
  format_request_id(id, 0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  EXPECT_EQ(std::string_view(id, 32), "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(id[32], '!');
  format_request_id(id, 0, 0);
  EXPECT_EQ(std::string_view(id, 32), std::string(32, '0'));
  format_request_id(id, ~0ULL, ~0ULL);
  EXPECT_EQ(std::string_view(id, 32), std::string(32, 'f'));
  format_request_id(id, 0xA, 0xB0000000000000C0ULL);
  EXPECT_EQ(std::string_view(id, 32), "000000000000000ab0000000000000c0");
  for (char ch : std::string_view(id, 32)) {
    EXPECT_TRUE((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) << ch;
  }
}

TEST(Append, UintAndHexAppend) {
  std::string s = "n=";
  append_uint(s, 0);
  s += ',';
  append_uint(s, 42);
  s += ',';
  append_uint(s, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(s, "n=0,42,18446744073709551615");

  std::string h = "x";
  append_hex(h, 0);
  h += ',';
  append_hex(h, 255);
  h += ',';
  append_hex(h, 0x1a2b);
  h += ',';
  append_hex(h, 0xDEADBEEFULL);
  h += ',';
  append_hex(h, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(h, "x0,ff,1a2b,deadbeef,ffffffffffffffff");
}

}  // namespace
}  // namespace sluice::http
