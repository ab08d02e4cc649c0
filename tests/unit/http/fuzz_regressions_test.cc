// Inputs tests/fuzz found that the parser once let through; each is refused now.
#include <gtest/gtest.h>

#include <string>

#include "proxy/http/parser.h"
#include "tests/unit/http/parsed.h"

namespace sluice::http {
namespace {

struct Outcome {
  Parser::Event event;
  std::string reason;
};

Outcome parse(Parser::Kind kind, const std::string& raw) {
  Parsed p(kind, raw);
  return {p.event(), p.event() == Parser::Event::Error ? p.error() : ""};
}

TEST(FuzzRegressions, RequestHeaderWithAnEmptyNameIsRefused) {
  // llhttp takes ": x" as a header; sluice forwarded it upstream as is.
  Outcome o = parse(Parser::Kind::Request, "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n");
  EXPECT_EQ(o.event, Parser::Event::Error);
  EXPECT_EQ(o.reason, "empty header name");
  EXPECT_EQ(parse(Parser::Kind::Request, "GET / HTTP/1.1\r\n: x\r\nHost: a\r\n\r\n").event,
            Parser::Event::Error);
}

TEST(FuzzRegressions, ResponseHeaderWithAnEmptyNameIsRefused) {
  Outcome o = parse(Parser::Kind::Response, "HTTP/1.1 200 OK\r\n:\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(o.event, Parser::Event::Error);
  EXPECT_EQ(o.reason, "empty header name");
}

TEST(FuzzRegressions, ResponseStatusMustBeThreeDigits) {
  // llhttp reads "HTTP/1.1 \r\n" as status 0 and "HTTP/1.1 20 OK" as 20; sluice sent
  // "HTTP/1.1 0 Unknown" on to the client.
  for (const char* raw :
       {"HTTP/1.1 \r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n"}) {
    Outcome o = parse(Parser::Kind::Response, raw);
    EXPECT_EQ(o.event, Parser::Event::Error) << raw;
    EXPECT_EQ(o.reason, "invalid status code") << raw;
  }
  // The smallest and largest three-digit codes are fine.
  EXPECT_EQ(parse(Parser::Kind::Response, "HTTP/1.1 100 Continue\r\n\r\n").event,
            Parser::Event::MessageComplete);
  EXPECT_NE(parse(Parser::Kind::Response, "HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n").event,
            Parser::Event::Error);
}

}  // namespace
}  // namespace sluice::http
