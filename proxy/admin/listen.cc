// The admin server's listeners: the Unix socket (parent directories, a stale
// socket replaced, mode 0600, peer uids checked on accept) and the optional
// TCP listener for /metrics and the status page.
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "proxy/admin/listener.h"
#include "proxy/admin/server.h"

namespace sluice::admin {

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

// mkdir -p for the socket's parent directory, mode 0755 for what it creates.
bool make_parent_dirs(const std::string& path, std::string* error) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return true;
  const std::string dir = path.substr(0, slash);
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    *error = "cannot create admin socket " + path + ": " + dir + " is not a directory";
    return false;
  }
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string prefix = dir.substr(0, i);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create directory " + prefix + " for the admin socket: " + errno_text(errno);
      return false;
    }
  }
  return true;
}

// Is something accepting connections on the Unix socket at `path`?
// 1 yes, 0 no (stale), -1 cannot tell (errno set).
int probe_unix_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  const int e = errno;
  ::close(fd);
  if (r == 0) return 1;
  // EAGAIN: a live listener whose backlog is full.
  if (e == EAGAIN || e == EINPROGRESS) return 1;
  if (e == ECONNREFUSED) return 0;
  errno = e;
  return -1;
}

}  // namespace

bool AdminServer::listen_unix(const std::string& path, std::vector<uint32_t> allow_uids,
                              std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  if (unix_ != nullptr) {
    *error = "the admin server already listens on " + unix_path_;
    return false;
  }
  if (path.empty()) {
    *error = "admin socket path is empty";
    return false;
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "admin socket path " + path + " is too long (" + std::to_string(path.size()) +
             " bytes; the limit is " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + ")";
    return false;
  }
  if (!make_parent_dirs(path, error)) return false;

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "admin socket path " + path + " exists and is not a socket; refusing to replace it";
      return false;
    }
    const int live = probe_unix_socket(path);
    if (live == 1) {
      *error = "another sluice is listening on " + path;
      return false;
    }
    if (live < 0) {
      *error = "cannot check the existing admin socket " + path + ": " + errno_text(errno);
      return false;
    }
    // Stale: left by a process that is gone.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot remove the stale admin socket " + path + ": " + errno_text(errno);
      return false;
    }
  } else if (errno != ENOENT) {
    *error = "cannot stat admin socket path " + path + ": " + errno_text(errno);
    return false;
  }

  auto* l = new Listener;
  l->server = this;
  l->is_unix = true;
  if (int r = uv_pipe_init(loop_, &l->h.pipe, 0); r != 0) {
    delete l;
    *error = "cannot create admin socket " + path + ": " + uv_strerror(r);
    return false;
  }
  l->handle()->data = l;
  // The socket file is created by bind with 0777 & ~umask: no window in
  // which another user could connect.
  const mode_t old_mask = ::umask(0177);
  int r = uv_pipe_bind(&l->h.pipe, path.c_str());
  ::umask(old_mask);
  if (r != 0) {
    l->close();
    *error = "cannot bind admin socket " + path + ": " + uv_strerror(r);
    return false;
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int e = errno;
    l->close();
    ::unlink(path.c_str());
    *error = "cannot set mode 0600 on admin socket " + path + ": " + errno_text(e);
    return false;
  }
  r = uv_listen(l->stream(), 64, &AdminServer::on_unix_connection);
  if (r != 0) {
    l->close();
    ::unlink(path.c_str());
    *error = "cannot listen on admin socket " + path + ": " + uv_strerror(r);
    return false;
  }
  unix_ = l;
  unix_path_ = path;
  unix_dev_ = st.st_dev;
  unix_ino_ = st.st_ino;
  allow_uids_ = std::move(allow_uids);
  return true;
}

bool AdminServer::listen_tcp(const std::string& host_in, uint16_t port, std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string shown =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (tcp_ != nullptr) {
    *error = "the metrics listener is already open";
    return false;
  }
  sockaddr_storage ss{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss)) != 0) {
    *error = "metrics_listen " + shown + ": not an IP address";
    return false;
  }
  auto* l = new Listener;
  l->server = this;
  l->is_unix = false;
  if (int r = uv_tcp_init(loop_, &l->h.tcp); r != 0) {
    delete l;
    *error = "cannot listen on " + shown + ": " + uv_strerror(r);
    return false;
  }
  l->handle()->data = l;
  int r = uv_tcp_bind(&l->h.tcp, reinterpret_cast<const sockaddr*>(&ss), 0);
  if (r == 0) r = uv_listen(l->stream(), 64, &AdminServer::on_tcp_connection);
  if (r != 0) {
    l->close();
    *error = "cannot listen on " + shown + " (metrics_listen): " + uv_strerror(r);
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(&l->h.tcp, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    tcp_port_ =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  tcp_ = l;
  return true;
}

}  // namespace sluice::admin
