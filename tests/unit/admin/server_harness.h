// What the AdminServer tests share: a ControlApi that records its calls, a
// blocking HTTP client over Unix and TCP sockets, and the fixture that runs the
// server's loop in a thread of its own (server_test.cc, listen_test.cc).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proxy/admin/json.h"
#include "proxy/admin/server.h"

namespace sluice::admin {

// ---------------------------------------------------------------- fakes

struct Call {
  std::string method;  // "status", "set_split", ...
  std::string route;
  std::vector<std::pair<std::string, uint64_t>> weights;
  std::optional<std::string> pool;
  bool dry_run = false;
  Caller who;
};

inline Call named(const char* method) {
  Call c;
  c.method = method;
  return c;
}

// Records every call; answers with canned replies.
class RecordingApi : public ControlApi {
 public:
  Reply status() override {
    record(named("status"));
    return {200, R"({"version":"test","routes":[]})"};
  }
  Reply set_split(std::string_view route,
                  const std::vector<std::pair<std::string, uint64_t>>& weights, bool dry_run,
                  const Caller& who) override {
    Call c{"set_split", std::string(route), weights, std::nullopt, dry_run, who};
    record(c);
    if (route == "missing") return {404, R"({"error":"no route named \"missing\""})"};
    return {200, R"({"ok":true})"};
  }
  Reply rollback(std::string_view route, std::optional<std::string_view> pool, bool dry_run,
                 const Caller& who) override {
    Call c{"rollback", std::string(route), {}, std::nullopt, dry_run, who};
    if (pool) c.pool = std::string(*pool);
    record(c);
    return {200, R"({"ok":true})"};
  }
  Reply reload(bool dry_run, const Caller& who) override {
    Call c{"reload", "", {}, std::nullopt, dry_run, who};
    record(c);
    if (on_reload) on_reload();
    if (throw_on_reload) throw std::runtime_error("boom");
    return {200, R"({"ok":true})"};
  }
  Reply metrics() override {
    record(named("metrics"));
    return {200, "sluice_up 1\n", "text/plain; version=0.0.4"};
  }
  bool live() override { return true; }
  bool ready() override { return is_ready; }

  std::vector<Call> calls() {
    std::lock_guard<std::mutex> g(mu_);
    return calls_;
  }
  size_t count() { return calls().size(); }

  bool is_ready = true;
  bool throw_on_reload = false;
  std::function<void()> on_reload;  // runs on the loop thread

 private:
  void record(Call c) {
    std::lock_guard<std::mutex> g(mu_);
    calls_.push_back(std::move(c));
  }
  std::mutex mu_;
  std::vector<Call> calls_;
};

// ---------------------------------------------------------------- client

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string error() const {
    std::optional<json::Value> v = json::parse(body);
    if (!v || !v->find("error") || !v->find("error")->is_string())
      return "<no error: " + body + ">";
    return v->find("error")->as_string();
  }
};

inline void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// The address of the Unix socket at `path` (truncated to what sun_path holds).
inline sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  return sa;
}

inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa = unix_addr(path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  set_timeouts(fd, 5);
  return fd;
}

inline int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  set_timeouts(fd, 5);
  return fd;
}

inline bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response from fd; `buf` keeps bytes of following responses.
inline std::optional<HttpResponse> read_response(int fd, std::string& buf,
                                                 bool head_request = false) {
  auto fill = [&]() {
    char tmp[8192];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  HttpResponse r;
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  r.status = std::atoi(head.substr(9, 3).c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') value.erase(0, 1);
    r.headers[name] = value;
    pos = next;
  }
  size_t len = head_request ? 0 : std::stoul(r.header("content-length"));
  while (buf.size() < len) {
    if (!fill()) return std::nullopt;
  }
  r.body = buf.substr(0, len);
  buf.erase(0, len);
  return r;
}

// True once the peer has closed (EOF or reset) within the socket timeout.
inline bool peer_closed(int fd) {
  char tmp[256];
  for (;;) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// One request on a fresh connection.
inline HttpResponse request_on(int fd, const std::string& raw, bool head_request = false) {
  EXPECT_GE(fd, 0);
  HttpResponse out;
  if (fd < 0) return out;
  EXPECT_TRUE(send_all(fd, raw));
  std::string buf;
  std::optional<HttpResponse> r = read_response(fd, buf, head_request);
  ::close(fd);
  EXPECT_TRUE(r.has_value()) << raw;
  return r ? *r : out;
}

inline std::string req(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& extra = "") {
  std::string s = method + " " + target + " HTTP/1.1\r\nHost: sluice\r\n" + extra;
  if (!body.empty() || method == "PUT" || method == "POST") {
    s += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return s + "\r\n" + body;
}

// ---------------------------------------------------------------- harness

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-admin-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sock_ = dir_ + "/run/admin.sock";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_async_init(&loop_, &stop_, &AdminServerTest::on_stop), 0);
    stop_.data = this;
  }

  void TearDown() override {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void make_server(ServerOptions opt = {}) {
    server_ = std::make_unique<AdminServer>(&loop_, api_, opt);
  }

  // Creates the server, listens on the Unix socket, runs the loop.
  void start(std::vector<uint32_t> allow = {0}, ServerOptions opt = {}) {
    make_server(opt);
    std::string err;
    ASSERT_TRUE(server_->listen_unix(sock_, allow, &err)) << err;
    run();
  }

  void run() {
    running_ = true;
    loop_thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  // Closes the server on its loop and checks that the loop can end and
  // every handle was closed.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (running_) {
      uv_async_send(&stop_);
      loop_thread_.join();
    } else {
      on_stop(&stop_);
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left open on the loop";
  }

  static void on_stop(uv_async_t* a) {
    auto* self = static_cast<AdminServerTest*>(a->data);
    if (self->server_) self->server_->close();
    self->server_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
  }

  HttpResponse unix_request(const std::string& raw, bool head_request = false) {
    return request_on(connect_unix(sock_), raw, head_request);
  }

  std::string dir_;
  std::string sock_;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  RecordingApi api_;
  std::unique_ptr<AdminServer> server_;
  std::thread loop_thread_;
  bool running_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::admin
