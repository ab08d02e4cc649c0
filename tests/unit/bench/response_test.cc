#include "bench/loadgen/response.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::bench {
namespace {

struct Seen {
  int status;
  bool keep_alive;
  bool has_pool;
  std::string pool;
  uint64_t body;
};

// Feeds `wire` in pieces of `step` bytes and collects every completed response.
std::vector<Seen> read_all(ResponseReader& r, std::string_view wire, size_t step, bool eof = false,
                           bool* error = nullptr) {
  std::vector<Seen> out;
  auto take = [&] {
    out.push_back({r.status(), r.keep_alive(), r.has_header(), std::string(r.header_value()),
                   r.body_bytes()});
    r.next();
  };
  for (size_t off = 0; off < wire.size();) {
    std::string_view piece = wire.substr(off, step);
    size_t used = 0;
    while (used < piece.size()) {
      ResponseReader::Result res = r.feed(piece.data() + used, piece.size() - used);
      if (res.event == ResponseReader::Event::Error) {
        if (error) *error = true;
        return out;
      }
      used += res.consumed;
      if (res.event == ResponseReader::Event::Complete) take();
    }
    off += piece.size();
  }
  if (eof && r.finish_eof()) take();
  return out;
}

const std::string kTwo =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pool: blue\r\n\r\nhello"
    "HTTP/1.1 503 Service Unavailable\r\nx-pOOL: canary\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

TEST(ResponseReader, LengthAndChunkedAtEverySplit) {
  for (size_t step = 1; step <= kTwo.size(); ++step) {
    ResponseReader r("X-Pool");
    std::vector<Seen> got = read_all(r, kTwo, step);
    ASSERT_EQ(got.size(), 2u) << "step " << step;
    EXPECT_EQ(got[0].status, 200);
    EXPECT_EQ(got[0].pool, "blue") << "step " << step;
    EXPECT_EQ(got[0].body, 5u);
    EXPECT_TRUE(got[0].keep_alive);
    EXPECT_EQ(got[1].status, 503);
    EXPECT_EQ(got[1].pool, "canary") << "step " << step;
    EXPECT_EQ(got[1].body, 5u);
  }
}

TEST(ResponseReader, SimilarNamesDoNotMatch) {
  ResponseReader r("X-Pool");
  std::vector<Seen> got =
      read_all(r, "HTTP/1.1 200 OK\r\nX-Pools: no\r\nX-Poo: no\r\nContent-Length: 0\r\n\r\n", 3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].has_pool);
  EXPECT_EQ(got[0].pool, "");
}

TEST(ResponseReader, FirstValueKeptAndCut) {
  ResponseReader r("X-Pool");
  std::string longv(200, 'x');
  std::vector<Seen> got = read_all(
      r, "HTTP/1.1 200 OK\r\nX-Pool: " + longv + "\r\nX-Pool: second\r\nContent-Length: 0\r\n\r\n",
      7);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pool, std::string(ResponseReader::kMaxValue, 'x'));
}

TEST(ResponseReader, CloseDelimitedBodyEndsAtEof) {
  ResponseReader r("X-Pool");
  std::vector<Seen> got =
      read_all(r, "HTTP/1.0 200 OK\r\nX-Pool: a\r\n\r\nbody until close", 4, /*eof=*/true);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, 16u);
  EXPECT_FALSE(got[0].keep_alive);
  EXPECT_EQ(got[0].pool, "a");
}

TEST(ResponseReader, ConnectionCloseIsNotKeepAlive) {
  ResponseReader r("X-Pool");
  std::vector<Seen> got =
      read_all(r, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 64);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].keep_alive);
}

TEST(ResponseReader, InterimResponsesAreSkipped) {
  ResponseReader r("X-Pool");
  std::vector<Seen> got = read_all(r,
                                   "HTTP/1.1 100 Continue\r\nX-Pool: wrong\r\n\r\nHTTP/1.1 201 "
                                   "Created\r\nX-Pool: right\r\nContent-Length: 0\r\n\r\n",
                                   5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 201);
  EXPECT_EQ(got[0].pool, "right");
}

TEST(ResponseReader, HeadResponseHasNoBody) {
  ResponseReader r("X-Pool");
  r.set_head_request(true);
  std::vector<Seen> got = read_all(
      r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 9);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, 0u);
  EXPECT_EQ(got[1].status, 204);
}

TEST(ResponseReader, MalformedIsAnError) {
  ResponseReader r("X-Pool");
  bool error = false;
  read_all(r, "HTTP/1.1 abc OK\r\n\r\n", 64, false, &error);
  EXPECT_TRUE(error);
  EXPECT_NE(std::string(r.error_reason()), "");
}

TEST(ResponseReader, TruncatedResponseIsStillInMessageAtEof) {
  ResponseReader r("X-Pool");
  std::vector<Seen> got = read_all(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 64);
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(r.in_message());
  EXPECT_FALSE(r.finish_eof());
}

}  // namespace
}  // namespace sluice::bench
