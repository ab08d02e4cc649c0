// Parser (proxy/http/parser.h): upstream responses.
//
// Requests pause after the head (HeadComplete) and after each message
// (MessageComplete); responses pause only after each message. Spans are
// offsets from the base set by begin_message(), so every test keeps the bytes
// of a head in one contiguous std::string, as the connection code does.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/parser.h"
#include "tests/unit/http/parsed.h"

namespace sluice::http {
namespace {

using Event = Parser::Event;
using Kind = Parser::Kind;

// ----------------------------------------------------------------- responses

TEST(ParserResponse, StatusReasonHeadersAndBody) {
  const std::string raw =
      "HTTP/1.1 404 Not Found Here\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 9\r\n"
      "\r\n"
      "not found";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, raw.size());
  EXPECT_EQ(p.head().status, 404);
  EXPECT_EQ(reason(p), "Not Found Here");
  EXPECT_EQ(p.head().http_minor, 1);
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(hname(p, 1), "Content-Length");
  EXPECT_EQ(hvalue(p, 1), "9");
  EXPECT_TRUE(p.head().has_content_length);
  EXPECT_EQ(p.head().content_length, 9u);
  EXPECT_EQ(joined(body), "not found");
  EXPECT_EQ(p.body_bytes(), 9u);
  EXPECT_FALSE(p.needs_eof());
}

TEST(ParserResponse, HeadIsReportedWithoutPausing) {
  // Responses do not pause after the head: the head and the first body slices
  // come out of the same execute().
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_EQ(r.consumed, raw.size());
  EXPECT_TRUE(p.head_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(reason(p), "OK");
  EXPECT_EQ(joined(body), "first");
}

TEST(ParserResponse, ResponseToHeadHasNoBody) {
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  const std::string raw = resp + "HTTP/1.1 204 No Content\r\n\r\n";
  Parser p(Kind::Response);
  p.set_response_to_head(true);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, resp.size());
  EXPECT_TRUE(p.head().has_content_length);  // the header is still reported
  EXPECT_EQ(p.head().content_length, 1234u);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(p.body_bytes(), 0u);

  // Without the flag the same bytes would wait for a 1234-byte body.
  Parser q(Kind::Response);
  q.begin_message(resp.data());
  r = q.execute(resp.data(), resp.size(), &body);
  EXPECT_EQ(r.event, Event::NeedMore);
}

TEST(ParserResponse, NoBodyStatuses) {
  // With a Content-Length too: see ParserBug.NoBodyStatusesIgnoreContentLength.
  for (const char* raw_c :
       {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"}) {
    SCOPED_TRACE(raw_c);
    const std::string head = raw_c;
    const std::string raw = head + "HTTP/1.1 200 OK\r\n";
    Parser p(Kind::Response);
    std::vector<Slice> body;
    Parser::Result r = execute_all(p, raw, &body);
    ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
    EXPECT_EQ(r.consumed, head.size());
    EXPECT_TRUE(body.empty());
    EXPECT_FALSE(p.needs_eof());
  }
}

TEST(ParserResponse, CloseDelimitedBodyCompletesOnFinish) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
  const std::string raw = head + "some data and more";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  p.begin_message(raw.data());
  Parser::Result r = p.execute(raw.data(), head.size() + 9, &body);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_EQ(r.consumed, head.size() + 9);
  EXPECT_TRUE(p.needs_eof());
  EXPECT_FALSE(p.head().keep_alive);
  r = p.execute(raw.data() + head.size() + 9, raw.size() - head.size() - 9, &body);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_FALSE(p.message_done());
  EXPECT_TRUE(p.finish());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(joined(body), "some data and more");
  EXPECT_EQ(p.body_bytes(), 18u);
  EXPECT_FALSE(p.finish());  // once
}

TEST(ParserResponse, Http10CloseDelimitedEmptyBody) {
  const std::string raw = "HTTP/1.0 200 OK\r\n\r\n";
  Parser p(Kind::Response);
  Parser::Result r = execute_all(p, raw, nullptr);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_TRUE(p.needs_eof());
  EXPECT_EQ(p.head().http_minor, 0);
  EXPECT_TRUE(p.finish());
  EXPECT_EQ(p.body_bytes(), 0u);
}

TEST(ParserResponse, FinishDoesNotCompleteATruncatedMessage) {
  for (const char* raw_c : {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                            "HTTP/1.1 200 OK\r\nContent-Le"}) {
    SCOPED_TRACE(raw_c);
    const std::string raw = raw_c;
    Parser p(Kind::Response);
    std::vector<Slice> body;
    EXPECT_EQ(execute_all(p, raw, &body).event, Event::NeedMore);
    if (p.head_done()) {
      EXPECT_FALSE(p.needs_eof());
    }
    EXPECT_FALSE(p.finish());
    EXPECT_FALSE(p.message_done());
  }
  Parser idle(Kind::Response);  // nothing started: EOF between messages is fine
  EXPECT_FALSE(idle.finish());
}

TEST(ParserResponse, ContinueThenOk) {
  const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string raw = cont + ok;
  Parser p(Kind::Response);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  ASSERT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, cont.size());
  EXPECT_EQ(p.head().status, 100);
  EXPECT_EQ(reason(p), "Continue");
  EXPECT_TRUE(body.empty());

  p.resume();
  p.begin_message(raw.data() + cont.size());
  EXPECT_EQ(p.head().status, 0);
  r = p.execute(raw.data() + cont.size(), ok.size(), &body);
  ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, ok.size());
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(reason(p), "OK");
  ASSERT_EQ(p.head().headers.size(), 1u);
  EXPECT_EQ(hname(p, 0), "Content-Length");
  EXPECT_EQ(joined(body), "ok");
}

TEST(ParserResponse, ChunkedResponseSlices) {
  const std::string raw =
      "HTTP/1.1 200 OK\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "4\r\nWiki\r\n"
      "5;ext=1\r\npedia\r\n"
      "E\r\n in\r\n\r\nchunks.\r\n"
      "0\r\n"
      "\r\n";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  ASSERT_EQ(r.event, Event::MessageComplete) << p.error_reason();
  EXPECT_EQ(r.consumed, raw.size());
  EXPECT_TRUE(p.head().chunked);
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(std::string_view(body[0].data, body[0].len), "Wiki");
  EXPECT_EQ(std::string_view(body[1].data, body[1].len), "pedia");
  EXPECT_EQ(std::string_view(body[2].data, body[2].len), " in\r\n\r\nchunks.");
  EXPECT_EQ(p.body_bytes(), 23u);
  EXPECT_TRUE(p.head().keep_alive);
}

TEST(ParserResponse, ChunkedResponseAcrossReads) {
  const std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nabcdef\r\n3\r\nghi\r\n0\r\n\r\n";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  p.begin_message(raw.data());
  size_t split = raw.find("cdef");  // a chunk's data cut in two
  Parser::Result r = p.execute(raw.data(), split, &body);
  EXPECT_EQ(r.event, Event::NeedMore);
  EXPECT_EQ(joined(body), "ab");
  r = p.execute(raw.data() + split, raw.size() - split, &body);
  ASSERT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, raw.size() - split);
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(joined(body), "abcdefghi");
}

TEST(ParserResponse, SwitchingProtocols) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string raw = head + "\x81\x02hi";
  Parser p(Kind::Response);
  std::vector<Slice> body;
  Parser::Result r = execute_all(p, raw, &body);
  EXPECT_EQ(r.event, Event::MessageComplete);
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(p.head().status, 101);
  EXPECT_TRUE(p.head().upgrade);
  EXPECT_TRUE(body.empty());
}

TEST(ParserResponse, MalformedStatusLineIsAnError) {
  for (const char* raw_c : {"HTTP/1.1 2000 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"}) {
    SCOPED_TRACE(raw_c);
    const std::string raw = raw_c;
    Parser p(Kind::Response);
    std::vector<Slice> body;
    EXPECT_EQ(execute_all(p, raw, &body).event, Event::Error);
  }
}

}  // namespace
}  // namespace sluice::http
