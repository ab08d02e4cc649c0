// AdminServer's listeners (listen.cc and the peer check): the Unix socket
// file (its mode, directory, stale and live sockets) and which uids may use it,
// over real sockets as in server_test.cc.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "proxy/admin/server.h"
#include "tests/unit/admin/server_harness.h"

namespace sluice::admin {
namespace {

// A Unix socket bound at `path` (its directory created), not listening; -1 on failure.
int bind_unix(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa = unix_addr(path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// ---------------------------------------------------------------- socket file

TEST_F(AdminServerTest, SocketIsMode0600InACreatedDirectory) {
  start();
  struct stat st;
  ASSERT_EQ(::lstat(sock_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(server_->unix_path(), sock_);
}

TEST_F(AdminServerTest, CloseRemovesTheSocketFile) {
  start();
  ASSERT_EQ(::access(sock_.c_str(), F_OK), 0);
  stop();
  EXPECT_NE(::access(sock_.c_str(), F_OK), 0);
}

TEST_F(AdminServerTest, StaleSocketIsReplaced) {
  // A socket file whose owner is gone: bound, never unlinked.
  int fd = bind_unix(sock_);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(::access(sock_.c_str(), F_OK), 0);

  start();
  HttpResponse r = unix_request(req("GET", "/v1/status"));
  EXPECT_EQ(r.status, 200);
}

TEST_F(AdminServerTest, LiveSocketIsRefused) {
  int fd = bind_unix(sock_);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::listen(fd, 4), 0);

  make_server();
  std::string err;
  EXPECT_FALSE(server_->listen_unix(sock_, {}, &err));
  EXPECT_EQ(err, "another sluice is listening on " + sock_);
  ::close(fd);
  // The live socket's file was left alone.
  EXPECT_EQ(::access(sock_.c_str(), F_OK), 0);
}

TEST_F(AdminServerTest, SecondServerOnTheSamePathIsRefused) {
  start();
  RecordingApi other_api;
  uv_loop_t other_loop;
  ASSERT_EQ(uv_loop_init(&other_loop), 0);
  {
    AdminServer other(&other_loop, other_api);
    std::string err;
    EXPECT_FALSE(other.listen_unix(sock_, {}, &err));
    EXPECT_NE(err.find("another sluice is listening on"), std::string::npos) << err;
  }
  uv_run(&other_loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&other_loop), 0);
  // The first server still answers.
  EXPECT_EQ(unix_request(req("GET", "/v1/status")).status, 200);
}

TEST_F(AdminServerTest, PathThatIsNotASocketIsRefused) {
  std::filesystem::create_directories(dir_ + "/run");
  {
    FILE* f = std::fopen(sock_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  make_server();
  std::string err;
  EXPECT_FALSE(server_->listen_unix(sock_, {}, &err));
  EXPECT_NE(err.find("exists and is not a socket"), std::string::npos) << err;
  struct stat st;
  ASSERT_EQ(::lstat(sock_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(AdminServerTest, TooLongPathIsRefused) {
  make_server();
  std::string err;
  EXPECT_FALSE(server_->listen_unix(dir_ + "/" + std::string(200, 'x'), {}, &err));
  EXPECT_NE(err.find("too long"), std::string::npos) << err;
}

// ---------------------------------------------------------------- credentials

// Runs `fn` in a child whose uid is `uid`; returns the child's exit status.
int run_as(uid_t uid, const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(100);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

TEST_F(AdminServerTest, DisallowedUidGets403) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  constexpr uid_t kOther = 65534;
  start({0});
  // Let the other uid reach the socket file, so the peer check is what refuses it.
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sock_.c_str(), 0666), 0);
  const std::string sock = sock_;
  int rc = run_as(kOther, [&] {
    int fd = connect_unix(sock);
    if (fd < 0) return 2;
    if (!send_all(fd, req("PUT", "/v1/routes/app/split", R"({"blue":1})"))) return 3;
    std::string buf;
    std::optional<HttpResponse> r = read_response(fd, buf);
    if (!r) return 4;
    if (r->status != 403) return 5;
    if (r->error() != "uid 65534 is not allowed") return 6;
    if (r->header("connection") != "close") return 7;
    if (!peer_closed(fd)) return 8;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(api_.count(), 0u) << "a refused peer reached the control plane";
}

TEST_F(AdminServerTest, AllowedUidListIsHonoured) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  constexpr uid_t kOther = 65534;
  start({kOther});
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sock_.c_str(), 0666), 0);
  const std::string sock = sock_;
  int rc = run_as(kOther, [&] {
    HttpResponse r = request_on(connect_unix(sock), req("POST", "/v1/reload"));
    return r.status == 200 ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].who.uid, kOther);
  EXPECT_EQ(calls[0].who.gid, kOther);
  EXPECT_GT(calls[0].who.pid, 0);
  EXPECT_NE(calls[0].who.pid, ::getpid());
}

TEST_F(AdminServerTest, OwnUidIsAlwaysAllowed) {
  start({12345});  // our uid is not listed
  HttpResponse r = unix_request(req("POST", "/v1/reload"));
  EXPECT_EQ(r.status, 200);
  std::vector<Call> calls = api_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].who.uid, ::getuid());
  EXPECT_EQ(calls[0].who.gid, ::getgid());
  EXPECT_EQ(calls[0].who.pid, ::getpid());
}

}  // namespace
}  // namespace sluice::admin
