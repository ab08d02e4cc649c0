#include "bench/loadgen/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace sluice::bench {
namespace {

ParseResult parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"sluice-bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_args(static_cast<int>(argv.size()), argv.data());
}

TEST(Options, Defaults) {
  ParseResult r = parse({"http://127.0.0.1:8080/"});
  ASSERT_EQ(r.kind, ParseResult::Kind::Run) << r.error;
  const Options& o = r.options;
  EXPECT_EQ(o.threads, 1u);
  EXPECT_EQ(o.connections, 10u);
  EXPECT_EQ(o.duration_ns, 10'000'000'000u);
  EXPECT_EQ(o.requests, 0u);
  EXPECT_TRUE(o.closed_loop());
  EXPECT_FALSE(o.new_connection);
  EXPECT_TRUE(o.tls_resume);
  EXPECT_FALSE(o.verify);
  EXPECT_EQ(o.pool_header, "X-Pool");
  EXPECT_EQ(o.method, "GET");
}

TEST(Options, EveryFlag) {
  ParseResult r = parse({"-t",
                         "2",
                         "-c4",
                         "--rate=250.5",
                         "-n",
                         "1000",
                         "--new-conn",
                         "--timeout",
                         "500ms",
                         "-m",
                         "POST",
                         "-H",
                         "Content-Type: application/json",
                         "--header=X-A:  b ",
                         "--body",
                         "{}",
                         "--no-tls-resume",
                         "--cacert",
                         "/ca.pem",
                         "--sni",
                         "example.com",
                         "--pool-header",
                         "X-Upstream-Pool",
                         "--json",
                         "--no-progress",
                         "https://example.com/p?q=1"});
  ASSERT_EQ(r.kind, ParseResult::Kind::Run) << r.error;
  const Options& o = r.options;
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.connections, 4u);
  EXPECT_DOUBLE_EQ(o.rate, 250.5);
  EXPECT_EQ(o.requests, 1000u);
  EXPECT_EQ(o.duration_ns, 0u);
  EXPECT_TRUE(o.new_connection);
  EXPECT_EQ(o.timeout_ns, 500'000'000u);
  EXPECT_EQ(o.method, "POST");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[1].first, "X-A");
  EXPECT_EQ(o.headers[1].second, "b");
  EXPECT_EQ(o.body, "{}");
  EXPECT_FALSE(o.tls_resume);
  EXPECT_TRUE(o.verify);
  EXPECT_EQ(o.cacert, "/ca.pem");
  EXPECT_EQ(o.sni, "example.com");
  EXPECT_EQ(o.pool_header, "X-Upstream-Pool");
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.progress);
  EXPECT_TRUE(o.target.tls);
  EXPECT_EQ(o.target.port, 443);
  EXPECT_EQ(o.target.path, "/p?q=1");
  EXPECT_EQ(o.target.authority, "example.com");
}

TEST(Options, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"}).kind, ParseResult::Kind::Help);
  EXPECT_EQ(parse({"-h"}).kind, ParseResult::Kind::Help);
  EXPECT_EQ(parse({"--version"}).kind, ParseResult::Kind::Version);
}

TEST(Options, ErrorsSayWhatIsWrong) {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  };
  const Case cases[] = {
      {{}, "no URL given"},
      {{"--bogus", "http://h/"}, "unknown option '--bogus'"},
      {{"-c", "0", "http://h/"}, "-c: expected a whole number"},
      {{"-t", "4", "-c", "2", "http://h/"}, "-t 4 is more than -c 2"},
      {{"-n", "10", "-d", "1s", "http://h/"}, "not both"},
      {{"-d", "soon", "http://h/"}, "-d: expected a duration"},
      {{"--rate", "-5", "http://h/"}, "--rate: expected requests per second"},
      {{"-H", "NoColon", "http://h/"}, "-H: expected 'Name: value'"},
      {{"-c"}, "-c needs a value"},
      {{"--json=yes", "http://h/"}, "takes no value"},
      {{"ftp://h/"}, "unsupported scheme"},
      {{"http://h:99999/"}, "bad port"},
      {{"http://h/", "http://i/"}, "one URL only"},
      {{"--body", "a", "--body-file", "f", "http://h/"}, "give one body"},
      {{"--body-file", "/nonexistent/body", "http://h/"}, "cannot read"},
  };
  for (const Case& c : cases) {
    std::vector<const char*> argv{"sluice-bench"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ParseResult r = parse_args(static_cast<int>(argv.size()), argv.data());
    EXPECT_EQ(r.kind, ParseResult::Kind::Error) << c.message;
    EXPECT_NE(r.error.find(c.message), std::string::npos) << "got: " << r.error;
  }
}

TEST(Url, Forms) {
  std::string error;
  auto t = parse_url("http://[::1]:8080", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->authority, "[::1]:8080");
  t = parse_url("HTTPS://h?x=1#frag", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->path, "/?x=1");
  EXPECT_EQ(t->authority, "h");
  EXPECT_FALSE(parse_url("http://user@h/", &error));
  EXPECT_FALSE(parse_url("http:///path", &error));
  EXPECT_FALSE(parse_url("http://h/a b", &error));
}

TEST(Duration, Units) {
  EXPECT_EQ(parse_duration_ns("10s"), 10'000'000'000u);
  EXPECT_EQ(parse_duration_ns("250ms"), 250'000'000u);
  EXPECT_EQ(parse_duration_ns("1.5m"), 90'000'000'000u);
  EXPECT_EQ(parse_duration_ns("1h"), 3'600'000'000'000u);
  EXPECT_EQ(parse_duration_ns("20us"), 20'000u);
  EXPECT_EQ(parse_duration_ns("3"), 3'000'000'000u);
  EXPECT_FALSE(parse_duration_ns("-1s"));
  EXPECT_FALSE(parse_duration_ns("s"));
  EXPECT_FALSE(parse_duration_ns("10 s"));
  EXPECT_FALSE(parse_duration_ns("1e30h"));
}

TEST(Request, Bytes) {
  ParseResult r =
      parse({"-m", "POST", "-H", "X-Trace: 1", "--body", "hello", "--new-conn", "http://h:81/up"});
  ASSERT_EQ(r.kind, ParseResult::Kind::Run) << r.error;
  std::string req = build_request(r.options);
  EXPECT_TRUE(req.starts_with("POST /up HTTP/1.1\r\nHost: h:81\r\nUser-Agent: sluice-bench/"))
      << req;
  EXPECT_NE(req.find("\r\nX-Trace: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
            std::string::npos)
      << req;
}

TEST(Request, GivenHeadersReplaceTheDefaults) {
  ParseResult r =
      parse({"-H", "Host: virtual.example", "-H", "user-agent: mine", "http://127.0.0.1/"});
  ASSERT_EQ(r.kind, ParseResult::Kind::Run) << r.error;
  EXPECT_EQ(build_request(r.options),
            "GET / HTTP/1.1\r\nHost: virtual.example\r\nuser-agent: mine\r\n\r\n");
}

}  // namespace
}  // namespace sluice::bench
