// AdminServer over real sockets: the loop runs in a thread of its own and the
// test talks to it with plain blocking sockets, like sluicectl or curl would.
// Routing, errors, keep-alive, limits and the metrics listener; the socket
// file and who may connect are in listen_test.cc.
#include "proxy/admin/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/unit/admin/server_harness.h"

namespace sluice::admin {
namespace {

// ---------------------------------------------------------------- routing

TEST_F(AdminServerTest, StatusIsPassedThrough) {
  start();
  HttpResponse r = unix_request(req("GET", "/v1/status"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"version":"test","routes":[]})");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  // curl --unix-socket sends origin-form; absolute-form works too.
  EXPECT_EQ(unix_request(req("GET", "http://sluice/v1/status")).status, 200);
}

TEST_F(AdminServerTest, SplitParsesTheBody) {
  start();
  HttpResponse r = unix_request(req("PUT", "/v1/routes/app/split", R"({"blue":90,"canary":10})"));
  EXPECT_EQ(r.status, 200);
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "set_split");
  EXPECT_EQ(calls[0].route, "app");
  ASSERT_EQ(calls[0].weights.size(), 2u);
  EXPECT_EQ(calls[0].weights[0], (std::pair<std::string, uint64_t>{"blue", 90}));
  EXPECT_EQ(calls[0].weights[1], (std::pair<std::string, uint64_t>{"canary", 10}));
  EXPECT_FALSE(calls[0].dry_run);
  EXPECT_EQ(calls[0].who.pid, ::getpid());
}

TEST_F(AdminServerTest, ControlPlaneStatusAndBodyAreReturned) {
  start();
  HttpResponse r = unix_request(req("PUT", "/v1/routes/missing/split", R"({"blue":1})"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error(), "no route named \"missing\"");
}

TEST_F(AdminServerTest, SplitBodyErrorsAre400WithPreciseMessages) {
  start();
  struct Case {
    std::string body;
    std::string error;
  };
  const Case cases[] = {
      {"", R"(request body required: a JSON object of pool weights, e.g. {"blue":90,"canary":10})"},
      {"[1,2]",
       R"(request body must be a JSON object of pool weights, e.g. {"blue":90,"canary":10}, not an array)"},
      {"42",
       R"(request body must be a JSON object of pool weights, e.g. {"blue":90,"canary":10}, not a number)"},
      {R"({"blue":90,)",
       "request body: invalid JSON at byte 11: unexpected end of input inside an object"},
      {R"({"blue" 90})",
       "request body: invalid JSON at byte 8: expected ':' after object key, got character '9'"},
      {R"({"blue":-1})", R"(weight of pool "blue" must be an integer >= 0, got -1)"},
      {R"({"blue":1.5})", R"(weight of pool "blue" must be an integer >= 0, got 1.5)"},
      {R"({"blue":"90"})", R"(weight of pool "blue" must be an integer >= 0, got "90")"},
      {R"({"blue":true})", R"(weight of pool "blue" must be an integer >= 0, got true)"},
      {R"({"blue":null})", R"(weight of pool "blue" must be an integer >= 0, got null)"},
      {R"({"blue":18446744073709551616})",
       R"(weight of pool "blue" must be an integer >= 0, got 18446744073709551616)"},
      {R"({"blue":1,"blue":2})", R"(request body: invalid JSON at byte 10: duplicate key "blue")"},
      {R"({"":1})", "pool names must not be empty"},
  };
  for (const Case& c : cases) {
    HttpResponse r = unix_request(req("PUT", "/v1/routes/app/split", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.error(), c.error) << c.body;
  }
  EXPECT_EQ(api_.count(), 0u);
  // Integral spellings are integers.
  HttpResponse r = unix_request(req("PUT", "/v1/routes/app/split", R"({"blue":1e2,"canary":0})"));
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(api_.count(), 1u);
  EXPECT_EQ(api_.calls()[0].weights[0].second, 100u);
}

TEST_F(AdminServerTest, UnknownPathIs404) {
  start();
  for (const char* path : {"/index.html", "/v1", "/v1/status/", "/v2/status", "/v1/routes/app",
                           "/v1/routes//split", "/v1/routes/app/split/x", "/nope"}) {
    HttpResponse r = unix_request(req("GET", path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.error().find("no such endpoint"), std::string::npos) << path;
  }
}

TEST_F(AdminServerTest, WrongMethodIs405WithAllow) {
  start();
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {"GET", "/v1/reload", "POST"},           {"PUT", "/v1/status", "GET, HEAD"},
      {"POST", "/v1/routes/app/split", "PUT"}, {"GET", "/v1/routes/app/rollback", "POST"},
      {"DELETE", "/metrics", "GET, HEAD"},     {"POST", "/health/ready", "GET, HEAD"},
  };
  for (const Case& c : cases) {
    HttpResponse r = unix_request(req(c.method, c.path));
    EXPECT_EQ(r.status, 405) << c.method << " " << c.path;
    EXPECT_EQ(r.header("allow"), c.allow) << c.method << " " << c.path;
    EXPECT_EQ(r.error(), std::string("method ") + c.method + " is not allowed on " + c.path +
                             "; use " + c.allow);
  }
  EXPECT_EQ(api_.count(), 0u);
}

TEST_F(AdminServerTest, HealthAndMetrics) {
  start();
  HttpResponse r = unix_request(req("GET", "/health/live"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}\n");
  api_.is_ready = false;
  r = unix_request(req("GET", "/health/ready"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"status\":\"unavailable\"}\n");
  r = unix_request(req("GET", "/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "sluice_up 1\n");
  r = unix_request(req("HEAD", "/metrics"), true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "12");
}

TEST_F(AdminServerTest, DryRunIsPassedThrough) {
  start();
  struct Case {
    std::string target;
    bool dry;
  };
  const Case cases[] = {
      {"/v1/reload?dry_run=1", true},      {"/v1/reload?dry_run=true", true},
      {"/v1/reload?dry_run", true},        {"/v1/reload?dry_run=0", false},
      {"/v1/reload?dry_run=false", false}, {"/v1/reload", false},
  };
  for (const Case& c : cases) {
    HttpResponse r = unix_request(req("POST", c.target));
    EXPECT_EQ(r.status, 200) << c.target;
  }
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), std::size(cases));
  for (size_t i = 0; i < calls.size(); ++i)
    EXPECT_EQ(calls[i].dry_run, cases[i].dry) << cases[i].target;

  EXPECT_EQ(unix_request(req("PUT", "/v1/routes/app/split?dry_run=1", R"({"a":1})")).status, 200);
  EXPECT_EQ(unix_request(req("POST", "/v1/routes/app/rollback?pool=canary&dry_run=true")).status,
            200);
  calls = api_.calls();
  ASSERT_EQ(calls.size(), std::size(cases) + 2);
  EXPECT_TRUE(calls[calls.size() - 2].dry_run);
  EXPECT_TRUE(calls.back().dry_run);
  EXPECT_EQ(calls.back().pool, "canary");
}

TEST_F(AdminServerTest, BadQueriesAre400) {
  start();
  struct Case {
    std::string method, target, error;
  };
  const Case cases[] = {
      {"POST", "/v1/reload?dry_run=yes", R"(dry_run must be 1, true, 0 or false, not "yes")"},
      {"POST", "/v1/reload?dryrun=1", R"(unknown query parameter "dryrun")"},
      {"POST", "/v1/reload?pool=x", R"(unknown query parameter "pool")"},
      {"POST", "/v1/reload?dry_run=1&dry_run=0",
       R"(query parameter "dry_run" given more than once)"},
      {"POST", "/v1/routes/app/rollback?pool=", R"(query parameter "pool" must name a pool)"},
      {"POST", "/v1/routes/app/rollback?pool=%zz", "invalid percent-encoding in the query string"},
      {"GET", "/v1/routes/a%2/split", "invalid percent-encoding in the request path"},
  };
  for (const Case& c : cases) {
    HttpResponse r = unix_request(req(c.method, c.target));
    EXPECT_EQ(r.status, 400) << c.target;
    EXPECT_EQ(r.error(), c.error) << c.target;
  }
  EXPECT_EQ(api_.count(), 0u);
}

TEST_F(AdminServerTest, RouteNamesAndQueryValuesAreUrlDecoded) {
  start();
  EXPECT_EQ(unix_request(req("POST", "/v1/routes/my%20route/rollback?pool=can%61ry")).status, 200);
  EXPECT_EQ(unix_request(req("POST", "/v1/routes/a%2Fb/rollback?pool=x+y")).status, 200);
  EXPECT_EQ(unix_request(req("POST", "/v1/routes/%C3%A9t%C3%A9/rollback")).status, 200);
  EXPECT_EQ(unix_request(req("PUT", "/v1/routes/%61pp/split", R"({"a":1})")).status, 200);
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].route, "my route");
  EXPECT_EQ(calls[0].pool, "canary");
  EXPECT_EQ(calls[1].route, "a/b");  // an encoded '/' stays inside the name
  EXPECT_EQ(calls[1].pool, "x y");
  EXPECT_EQ(calls[2].route, "\xc3\xa9t\xc3\xa9");
  EXPECT_FALSE(calls[2].pool.has_value());
  EXPECT_EQ(calls[3].route, "app");
}

// ---------------------------------------------------------------- HTTP framing

TEST_F(AdminServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  int fd = connect_unix(sock_);
  ASSERT_GE(fd, 0);
  std::string buf;
  ASSERT_TRUE(send_all(fd, req("GET", "/v1/status")));
  std::optional<HttpResponse> a = read_response(fd, buf);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->header("connection"), "keep-alive");
  ASSERT_TRUE(send_all(fd, req("PUT", "/v1/routes/app/split", R"({"blue":5})")));
  std::optional<HttpResponse> b = read_response(fd, buf);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->status, 200);
  // Pipelined: both answered, in order.
  ASSERT_TRUE(send_all(fd, req("GET", "/nope") + req("GET", "/health/live")));
  std::optional<HttpResponse> c = read_response(fd, buf);
  std::optional<HttpResponse> d = read_response(fd, buf);
  ASSERT_TRUE(c && d);
  EXPECT_EQ(c->status, 404);
  EXPECT_EQ(d->status, 200);
  ::close(fd);
  EXPECT_EQ(api_.count(), 2u);
}

TEST_F(AdminServerTest, ConnectionCloseIsHonoured) {
  start();
  int fd = connect_unix(sock_);
  ASSERT_GE(fd, 0);
  std::string buf;
  ASSERT_TRUE(send_all(fd, req("GET", "/v1/status", "", "Connection: close\r\n")));
  std::optional<HttpResponse> a = read_response(fd, buf);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->header("connection"), "close");
  EXPECT_TRUE(peer_closed(fd));
  ::close(fd);
}

TEST_F(AdminServerTest, OversizedRequestsAre413) {
  start();
  // Announced body over the limit: refused from the head alone.
  int fd = connect_unix(sock_);
  ASSERT_TRUE(send_all(fd, "PUT /v1/routes/app/split HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"));
  std::string buf;
  std::optional<HttpResponse> r = read_response(fd, buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->error(), "request body of 70000 bytes is larger than the limit of 65536 bytes");
  EXPECT_TRUE(peer_closed(fd));
  ::close(fd);

  // Head + body over the limit although each fits.
  std::string big_header = "X-Pad: " + std::string(40000, 'a') + "\r\n";
  HttpResponse r2 = unix_request(
      req("PUT", "/v1/routes/app/split", "{\"a\":1}" + std::string(30000, ' '), big_header));
  EXPECT_EQ(r2.status, 413);
  EXPECT_EQ(r2.error(), "request larger than 65536 bytes (head and body)");

  // A head that never ends.
  fd = connect_unix(sock_);
  std::string endless = "GET /v1/status HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i)
    endless += "X-H" + std::to_string(i) + ": " + std::string(40, 'b') + "\r\n";
  send_all(fd, endless);
  buf.clear();
  r = read_response(fd, buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  ::close(fd);
  EXPECT_EQ(api_.count(), 0u);
}

TEST_F(AdminServerTest, ChunkedBodyIs411AndGarbageIs400) {
  start();
  HttpResponse r = unix_request(
      "PUT /v1/routes/app/split HTTP/1.1\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\n{\"a\":1}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 411);
  EXPECT_EQ(r.header("connection"), "close");

  int fd = connect_unix(sock_);
  ASSERT_TRUE(send_all(fd, "HELLO\r\n\r\n"));
  std::string buf;
  std::optional<HttpResponse> g = read_response(fd, buf);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->status, 400);
  EXPECT_NE(g->error().find("malformed request"), std::string::npos) << g->body;
  EXPECT_TRUE(peer_closed(fd));
  ::close(fd);
}

TEST_F(AdminServerTest, ExpectContinueGets100) {
  start();
  int fd = connect_unix(sock_);
  ASSERT_TRUE(send_all(fd,
                       "PUT /v1/routes/app/split HTTP/1.1\r\nExpect: 100-continue\r\n"
                       "Content-Length: 8\r\n\r\n"));
  std::string buf;
  std::optional<HttpResponse> cont = read_response(fd, buf, true);
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(send_all(fd, R"({"b":20})"));
  std::optional<HttpResponse> r = read_response(fd, buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  ::close(fd);
}

TEST_F(AdminServerTest, IncompleteRequestTimesOutWith408) {
  ServerOptions opt;
  opt.request_timeout_ms = 200;
  start({0}, opt);
  int fd = connect_unix(sock_);
  ASSERT_TRUE(send_all(fd, "GET /v1/status HTTP/1.1\r\nHost: x\r\n"));
  std::string buf;
  std::optional<HttpResponse> r = read_response(fd, buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(peer_closed(fd));
  ::close(fd);

  // An idle connection is closed without a response.
  fd = connect_unix(sock_);
  char c;
  EXPECT_EQ(::recv(fd, &c, 1, 0), 0);
  ::close(fd);
}

TEST_F(AdminServerTest, ControlPlaneExceptionIs500) {
  api_.throw_on_reload = true;
  start();
  HttpResponse r = unix_request(req("POST", "/v1/reload"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.error(), "internal error: boom");
}

TEST_F(AdminServerTest, CloseWithOpenConnectionsLetsTheLoopEnd) {
  start();
  int idle = connect_unix(sock_);
  int partial = connect_unix(sock_);
  ASSERT_TRUE(send_all(partial, "GET /v1/sta"));
  // Make sure both are accepted before closing.
  EXPECT_EQ(unix_request(req("GET", "/health/live")).status, 200);
  stop();  // checks uv_loop_close() == 0
  EXPECT_TRUE(peer_closed(idle));
  EXPECT_TRUE(peer_closed(partial));
  ::close(idle);
  ::close(partial);
}

TEST_F(AdminServerTest, ServerMayBeDestroyedFromInsideAControlApiCall) {
  api_.on_reload = [this] { server_.reset(); };
  start();
  int fd = connect_unix(sock_);
  ASSERT_TRUE(send_all(fd, req("POST", "/v1/reload")));
  EXPECT_TRUE(peer_closed(fd));  // no answer: the server is gone
  ::close(fd);
  EXPECT_NE(::access(sock_.c_str(), F_OK), 0);
}

// ---------------------------------------------------------------- metrics listener

TEST_F(AdminServerTest, MetricsListenerIsReadOnly) {
  make_server();
  std::string err;
  ASSERT_TRUE(server_->listen_tcp("127.0.0.1", 0, &err)) << err;
  const int port = server_->tcp_port();
  ASSERT_GT(port, 0);
  run();

  HttpResponse r = request_on(connect_tcp(port), req("GET", "/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "sluice_up 1\n");
  EXPECT_EQ(request_on(connect_tcp(port), req("GET", "/health/live")).status, 200);
  api_.is_ready = false;
  EXPECT_EQ(request_on(connect_tcp(port), req("GET", "/health/ready")).status, 503);
  EXPECT_EQ(request_on(connect_tcp(port), req("GET", "/v1/status")).status, 404);
  EXPECT_EQ(request_on(connect_tcp(port), req("POST", "/v1/reload")).status, 404);
  EXPECT_EQ(request_on(connect_tcp(port), req("PUT", "/v1/routes/app/split", R"({"a":1})")).status,
            404);
  HttpResponse m = request_on(connect_tcp(port), req("POST", "/metrics"));
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.header("allow"), "GET, HEAD");
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), 1u);  // only the one /metrics
  EXPECT_EQ(calls[0].method, "metrics");
}

TEST_F(AdminServerTest, StatusPageOnBothListenersReadOnlyWithSecurityHeaders) {
  make_server();
  std::string err;
  ASSERT_TRUE(server_->listen_unix(sock_, {0}, &err)) << err;
  ASSERT_TRUE(server_->listen_tcp("127.0.0.1", 0, &err)) << err;
  const int port = server_->tcp_port();
  run();

  struct Case {
    const char* path;
    const char* type;
  };
  for (const Case& c :
       {Case{"/", "text/html; charset=utf-8"}, Case{"/status.js", "text/javascript; charset=utf-8"},
        Case{"/status.css", "text/css; charset=utf-8"}, Case{"/status.json", "application/json"}}) {
    for (bool tcp : {true, false}) {
      HttpResponse r = tcp ? request_on(connect_tcp(port), req("GET", c.path))
                           : unix_request(req("GET", c.path));
      EXPECT_EQ(r.status, 200) << c.path;
      EXPECT_EQ(r.header("content-type"), c.type) << c.path;
      EXPECT_FALSE(r.body.empty()) << c.path;
      EXPECT_EQ(r.header("content-security-policy"), "default-src 'self'") << c.path;
      EXPECT_EQ(r.header("x-content-type-options"), "nosniff") << c.path;
      EXPECT_EQ(r.header("x-frame-options"), "DENY") << c.path;
      EXPECT_EQ(r.header("cache-control"), "no-store") << c.path;

      HttpResponse post = tcp ? request_on(connect_tcp(port), req("POST", c.path, "{}"))
                              : unix_request(req("POST", c.path, "{}"));
      EXPECT_EQ(post.status, 405) << c.path;
      EXPECT_EQ(post.header("allow"), "GET, HEAD") << c.path;
    }
  }
  HttpResponse page = request_on(connect_tcp(port), req("GET", "/"));
  EXPECT_NE(page.body.find("<script src=\"status.js\" defer></script>"), std::string::npos);
  HttpResponse json = request_on(connect_tcp(port), req("GET", "/status.json"));
  EXPECT_EQ(json.body, R"({"version":"test","routes":[]})");  // ControlApi's default: status()
  // Errors carry the headers too.
  EXPECT_EQ(request_on(connect_tcp(port), req("GET", "/nope")).header("x-frame-options"), "DENY");
  for (const Call& call : api_.calls()) EXPECT_EQ(call.method, "status");
}

TEST_F(AdminServerTest, MetricsListenerErrors) {
  make_server();
  std::string err;
  EXPECT_FALSE(server_->listen_tcp("not-an-ip", 9901, &err));
  EXPECT_NE(err.find("not an IP address"), std::string::npos) << err;
  ASSERT_TRUE(server_->listen_tcp("[::1]", 0, &err)) << err;
  const int port = server_->tcp_port();
  AdminServer other(&loop_, api_);
  EXPECT_FALSE(other.listen_tcp("::1", static_cast<uint16_t>(port), &err));
  EXPECT_NE(err.find("address already in use"), std::string::npos) << err;
}

}  // namespace
}  // namespace sluice::admin
