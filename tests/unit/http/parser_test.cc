// Parser: llhttp behind sluice's narrow interface (proxy/http/parser.h): requests.
// Responses are in parser_response_test.cc, what it refuses in parser_refuses_test.cc.
//
// Requests pause after the head (HeadComplete) and after each message
// (MessageComplete); responses pause only after each message. Spans are
// offsets from the base set by begin_message(), so every test keeps the bytes
// of a head in one contiguous std::string, as the connection code does.
#include "proxy/http/parser.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/http/parsed.h"

namespace sluice::http {
namespace {

using Event = Parser::Event;
using Kind = Parser::Kind;

// ------------------------------------------------------------------ requests

TEST(ParserRequest, SimpleGetHeadSpans) {
  const std::string raw =
      "GET /a/b?c=d&e=%20 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: curl/8.0\r\n"
      "Accept: */*\r\n"
      "X-Empty:\r\n"
      "\r\n";
  Parser p(Kind::Request);
  p.begin_message(raw.data());
  EXPECT_FALSE(p.started());
  Parser::Result r = p.execute(raw.data(), raw.size(), nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, raw.size());
  EXPECT_TRUE(p.started());
  EXPECT_TRUE(p.url_done());
  EXPECT_TRUE(p.head_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_FALSE(p.in_head());
  EXPECT_EQ(p.base(), raw.data());

  const MessageHead& h = p.head();
  EXPECT_EQ(h.method, HTTP_GET);
  EXPECT_EQ(url(p), "/a/b?c=d&e=%20");
  EXPECT_EQ(h.http_major, 1);
  EXPECT_EQ(h.http_minor, 1);
  ASSERT_EQ(h.headers.size(), 4u);
  EXPECT_EQ(hname(p, 0), "Host");
  EXPECT_EQ(hvalue(p, 0), "example.com");
  EXPECT_EQ(hname(p, 1), "User-Agent");
  EXPECT_EQ(hvalue(p, 1), "curl/8.0");
  EXPECT_EQ(hname(p, 2), "Accept");
  EXPECT_EQ(hvalue(p, 2), "*/*");
  EXPECT_EQ(hname(p, 3), "X-Empty");
  EXPECT_EQ(hvalue(p, 3), "");
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.has_content_length);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.upgrade);
  EXPECT_FALSE(h.bad_header);
  EXPECT_FALSE(p.too_many_headers());
  // Spans are offsets from the base: the URL starts right after "GET ".
  EXPECT_EQ(h.url.off, 4u);
  EXPECT_EQ(h.headers[0].name.off, raw.find("Host"));

  // A bodiless GET completes as soon as the parser runs again.
  p.resume();
  r = p.execute(raw.data() + raw.size(), 0, nullptr);
  EXPECT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.body_bytes(), 0u);
}

TEST(ParserRequest, MethodsAndHeaderValueWhitespace) {
  const std::string raw =
      "DELETE /items/7 HTTP/1.1\r\n"
      "Host:example.com\r\n"
      "X-Pad: \t padded value \t \r\n"
      "\r\n";
  Parser p(Kind::Request);
  Parser::Result r = execute_all(p, raw, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete) << p.error_reason();
  EXPECT_EQ(p.head().method, HTTP_DELETE);
  EXPECT_EQ(url(p), "/items/7");
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(hvalue(p, 0), "example.com");
  // Leading OWS is not part of the value; trailing OWS may be, but never the CRLF.
  std::string_view v = hvalue(p, 1);
  EXPECT_EQ(v.substr(0, 12), "padded value");
  EXPECT_EQ(v.find_first_of("\r\n"), std::string_view::npos);
  EXPECT_EQ(v.find_first_not_of(" \t", 12), std::string_view::npos) << v;
}

TEST(ParserRequest, HeadSplitByteByByteKeepsSpans) {
  const std::string raw =
      "OPTIONS /long/path/with/segments?x=1 HTTP/1.1\r\n"
      "Host: byte.example\r\n"
      "X-Long-Header-Name: a fairly long value, with, commas\r\n"
      "Cookie: a=1; b=2\r\n"
      "\r\n";
  Parser p(Kind::Request);
  p.begin_message(raw.data());
  for (size_t i = 0; i + 1 < raw.size(); ++i) {
    Parser::Result r = p.execute(raw.data() + i, 1, nullptr);
    ASSERT_EQ(r.event, Event::NeedMore) << "at byte " << i;
    ASSERT_EQ(r.consumed, 1u);
    ASSERT_TRUE(p.in_head()) << "at byte " << i;
  }
  Parser::Result r = p.execute(raw.data() + raw.size() - 1, 1, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, 1u);
  EXPECT_EQ(p.head().method, HTTP_OPTIONS);
  EXPECT_EQ(url(p), "/long/path/with/segments?x=1");
  ASSERT_EQ(p.head().headers.size(), 3u);
  EXPECT_EQ(hname(p, 0), "Host");
  EXPECT_EQ(hvalue(p, 0), "byte.example");
  EXPECT_EQ(hname(p, 1), "X-Long-Header-Name");
  EXPECT_EQ(hvalue(p, 1), "a fairly long value, with, commas");
  EXPECT_EQ(hname(p, 2), "Cookie");
  EXPECT_EQ(hvalue(p, 2), "a=1; b=2");
}

TEST(ParserRequest, RebaseAfterTheCallerMovesTheHead) {
  const std::string part1 = "GET /moved HTTP/1.1\r\nHo";
  const std::string part2 = "st: after.move\r\n\r\n";
  std::string first = part1;
  Parser p(Kind::Request);
  p.begin_message(first.data());
  ASSERT_EQ(p.execute(first.data(), first.size(), nullptr).event, Event::NeedMore);
  // The caller compacts: the same bytes now live elsewhere, more arrive after them.
  std::string second = "junk" + part1 + part2;
  const char* base = second.data() + 4;
  p.rebase(base);
  Parser::Result r = p.execute(base + part1.size(), part2.size(), nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete) << p.error_reason();
  first.assign(first.size(), '#');  // the old block is gone
  EXPECT_EQ(url(p), "/moved");
  ASSERT_EQ(p.head().headers.size(), 1u);
  EXPECT_EQ(hname(p, 0), "Host");
  EXPECT_EQ(hvalue(p, 0), "after.move");
}

TEST(ParserRequest, ContentLengthBodySlices) {
  const std::string head =
      "POST /upload HTTP/1.1\r\n"
      "Host: h\r\n"
      "Content-Length: 11\r\n"
      "\r\n";
  const std::string raw = head + "hello world";
  Parser p(Kind::Request);
  Parser::Result r = execute_all(p, raw, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete);
  ASSERT_EQ(r.consumed, head.size());
  EXPECT_EQ(p.head().method, HTTP_POST);
  EXPECT_TRUE(p.head().has_content_length);
  EXPECT_EQ(p.head().content_length, 11u);
  EXPECT_FALSE(p.head().chunked);
  p.resume();

  std::vector<Slice> body;
  const char* at = raw.data() + head.size();
  r = p.execute(at, 4, &body);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_EQ(r.consumed, 4u);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].data, at);  // zero copy: points into the bytes fed
  EXPECT_EQ(body[0].len, 4u);
  EXPECT_EQ(p.body_bytes(), 4u);

  r = p.execute(at + 4, 7, &body);
  EXPECT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, 7u);
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[1].data, at + 4);
  EXPECT_EQ(joined(body), "hello world");
  EXPECT_EQ(p.body_bytes(), 11u);
  EXPECT_TRUE(p.message_done());
}

TEST(ParserRequest, ContentLengthBodyStopsAtItsLength) {
  // Bytes after the body belong to the next request and are not consumed.
  const std::string raw =
      "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n";
  Parser p(Kind::Request);
  RequestRun run = run_request(p, raw);
  EXPECT_EQ(run.trace(), "HeadComplete MessageComplete ");
  EXPECT_EQ(run.body, "abc");
  EXPECT_EQ(run.consumed, raw.find("GET /next"));
}

TEST(ParserRequest, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string head =
      "POST /chunks HTTP/1.1\r\n"
      "Host: h\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n";
  const std::string chunks =
      "5;name=value\r\n"
      "hello\r\n"
      "6;ext;q=\"quoted\"\r\n"
      " world\r\n"
      "A\r\n"
      "0123456789\r\n"
      "0;last=1\r\n"
      "X-Checksum: abc\r\n"
      "\r\n";
  const std::string raw = head + chunks + "NEXT";
  Parser p(Kind::Request);
  Parser::Result r = execute_all(p, raw, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete);
  ASSERT_EQ(r.consumed, head.size());
  EXPECT_TRUE(p.head().chunked);
  EXPECT_FALSE(p.head().has_content_length);
  p.resume();

  std::vector<Slice> body;
  r = p.execute(raw.data() + head.size(), raw.size() - head.size(), &body);
  ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, chunks.size());
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(std::string_view(body[0].data, body[0].len), "hello");
  EXPECT_EQ(std::string_view(body[1].data, body[1].len), " world");
  EXPECT_EQ(std::string_view(body[2].data, body[2].len), "0123456789");
  EXPECT_EQ(p.body_bytes(), 21u);
}

TEST(ParserRequest, ChunkedBodyByteByByte) {
  const std::string raw =
      "POST /chunks HTTP/1.1\r\n"
      "Host: h\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "3;e=1\r\nabc\r\n"
      "2\r\nde\r\n"
      "0\r\nX-T: v\r\n\r\n";
  Parser p(Kind::Request);
  RequestRun run = run_request(p, raw, 1);
  EXPECT_EQ(run.trace(), "HeadComplete MessageComplete ");
  EXPECT_EQ(run.consumed, raw.size());
  EXPECT_EQ(run.body, "abcde");
  EXPECT_EQ(p.body_bytes(), 5u);
}

TEST(ParserRequest, PipelinedRequestsInOneBuffer) {
  const std::string r1 = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string r2 = "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  const std::string b2 = "abc";
  const std::string r3 = "GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const std::string raw = r1 + r2 + b2 + r3;
  const char* p0 = raw.data();
  Parser p(Kind::Request);
  std::vector<Slice> body;

  // Request 1: paused after its head; everything after it left unconsumed.
  p.begin_message(p0);
  Parser::Result r = p.execute(p0, raw.size(), nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete);
  ASSERT_EQ(r.consumed, r1.size());
  EXPECT_EQ(url(p), "/one");
  size_t pos = r.consumed;
  p.resume();
  r = p.execute(p0 + pos, raw.size() - pos, &body);
  ASSERT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, 0u);  // no body: nothing of request 2 consumed
  EXPECT_TRUE(body.empty());

  // Request 2 starts where request 1 ended.
  p.resume();
  p.begin_message(p0 + pos);
  EXPECT_FALSE(p.head_done());
  EXPECT_FALSE(p.message_done());
  r = p.execute(p0 + pos, raw.size() - pos, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete) << p.error_reason();
  ASSERT_EQ(r.consumed, r2.size());
  EXPECT_EQ(p.head().method, HTTP_POST);
  EXPECT_EQ(url(p), "/two");
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(hvalue(p, 1), "3");
  pos += r.consumed;
  p.resume();
  r = p.execute(p0 + pos, raw.size() - pos, &body);
  ASSERT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, b2.size());
  EXPECT_EQ(joined(body), "abc");
  EXPECT_EQ(p.body_bytes(), 3u);
  pos += r.consumed;

  // Request 3: body_bytes and the head were reset by begin_message().
  p.resume();
  p.begin_message(p0 + pos);
  EXPECT_EQ(p.body_bytes(), 0u);
  r = p.execute(p0 + pos, raw.size() - pos, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete);
  ASSERT_EQ(r.consumed, r3.size());
  EXPECT_EQ(url(p), "/three");
  EXPECT_FALSE(p.head().keep_alive);
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(hname(p, 1), "Connection");
  pos += r.consumed;
  EXPECT_EQ(pos, raw.size());
  p.resume();
  r = p.execute(p0 + pos, 0, nullptr);
  EXPECT_EQ(r.event, Event::MessageComplete);
}

TEST(ParserRequest, PipelinedRequestsArrivingByteByByte) {
  const std::string raw =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy"
      "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  Parser p(Kind::Request);
  std::vector<std::string> urls;
  std::string bodies;
  std::string trace;
  std::vector<Slice> body;
  size_t pos = 0;
  size_t avail = 0;
  bool in_message = false;
  while (pos < raw.size() || in_message) {
    if (!in_message) {
      p.begin_message(raw.data() + pos);
      in_message = true;
    }
    if (avail == pos && avail < raw.size()) ++avail;  // one more byte arrives
    Parser::Result r = p.execute(raw.data() + pos, avail - pos, &body);
    ASSERT_NE(r.event, Event::Error) << p.error_reason();
    pos += r.consumed;
    if (r.event == Event::HeadComplete) {
      trace += "H";
      urls.emplace_back(url(p));
      p.resume();
    } else if (r.event == Event::MessageComplete) {
      trace += "M";
      p.resume();
      in_message = false;
    } else if (avail == raw.size()) {
      break;
    }
  }
  EXPECT_EQ(trace, "HMHMHM");
  EXPECT_EQ(urls, (std::vector<std::string>{"/a", "/b", "/c"}));
  EXPECT_EQ(joined(body), "xy");
  EXPECT_EQ(pos, raw.size());
}

TEST(ParserRequest, Http10KeepAlive) {
  struct Case {
    const char* raw;
    uint8_t minor;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.0\r\nHost: h\r\n\r\n", 0, false},
      {"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", 0, true},
      {"GET / HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive\r\n\r\n", 0, true},
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 1, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", 1, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.raw);
    const std::string raw = c.raw;
    Parser p(Kind::Request);
    Parser::Result r = execute_all(p, raw, nullptr);
    ASSERT_EQ(r.event, Event::HeadComplete);
    EXPECT_EQ(p.head().http_major, 1);
    EXPECT_EQ(p.head().http_minor, c.minor);
    EXPECT_EQ(p.head().keep_alive, c.keep_alive);
  }
}

TEST(ParserRequest, UpgradeRequestIsFlaggedAndStopsTheParser) {
  const std::string head =
      "GET /ws HTTP/1.1\r\n"
      "Host: h\r\n"
      "Connection: Upgrade\r\n"
      "Upgrade: websocket\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  const std::string frames = "\x81\x05hello";
  const std::string raw = head + frames;
  Parser p(Kind::Request);
  Parser::Result r = execute_all(p, raw, nullptr);
  ASSERT_EQ(r.event, Event::HeadComplete);
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_TRUE(p.head().upgrade);
  p.resume();
  std::vector<Slice> body;
  r = p.execute(raw.data() + head.size(), frames.size(), &body);
  EXPECT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, 0u);  // the tunnel bytes are not HTTP
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(p.message_done());
  // Done for good: resume() is a no-op and the tunnel bytes are never parsed as HTTP.
  p.resume();
  r = p.execute(raw.data() + head.size(), frames.size(), &body);
  EXPECT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(body.empty());
}

TEST(ParserRequest, ConnectionUpgradeWithoutUpgradeHeaderIsNotAnUpgrade) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n";
  Parser p(Kind::Request);
  ASSERT_EQ(execute_all(p, raw, nullptr).event, Event::HeadComplete);
  EXPECT_FALSE(p.head().upgrade);
}

TEST(ParserRequest, TooManyHeaders) {
  const std::string ok = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  const std::string over = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  {
    Parser p(Kind::Request);
    p.set_max_headers(3);
    p.begin_message(ok.data());
    Parser::Result r = p.execute(ok.data(), ok.size(), nullptr);
    EXPECT_EQ(r.event, Event::HeadComplete);
    EXPECT_EQ(p.head().headers.size(), 3u);
    EXPECT_FALSE(p.too_many_headers());
  }
  {
    Parser p(Kind::Request);
    p.set_max_headers(3);
    p.begin_message(over.data());
    Parser::Result r = p.execute(over.data(), over.size(), nullptr);
    EXPECT_EQ(r.event, Event::Error);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_TRUE(p.too_many_headers());
    EXPECT_STREQ(p.error_reason(), "too many header lines");
    EXPECT_NE(p.error(), HPE_OK);
  }
  {
    // The same limit when the fourth name arrives byte by byte.
    Parser p(Kind::Request);
    p.set_max_headers(3);
    RequestRun run = run_request(p, over, 1);
    EXPECT_EQ(run.trace(), "Error ");
    EXPECT_TRUE(p.too_many_headers());
  }
}

TEST(ParserRequest, DefaultHeaderLimitIsAHundred) {
  std::string raw = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) raw += "X-H" + std::to_string(i) + ": v\r\n";
  std::string over = raw + "X-Last: v\r\n\r\n";
  raw += "\r\n";
  Parser a(Kind::Request);
  EXPECT_EQ(execute_all(a, raw, nullptr).event, Event::HeadComplete);
  EXPECT_EQ(a.head().headers.size(), 100u);
  Parser b(Kind::Request);
  b.begin_message(over.data());
  EXPECT_EQ(b.execute(over.data(), over.size(), nullptr).event, Event::Error);
  EXPECT_TRUE(b.too_many_headers());
}

}  // namespace
}  // namespace sluice::http
