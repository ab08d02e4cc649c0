#include "proxy/redirect.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "proxy/http/headers.h"

namespace sluice {

namespace {

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  uint32_t v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v >= 1 && v <= 65535;
}

bool valid_dns_name(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!alnum && c != '-' && c != '_') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return true;
}

}  // namespace

bool valid_redirect_host(std::string_view host, std::string_view* host_only) {
  if (host.empty()) return false;
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(0, close + 1);
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (!valid_port(port)) return false;
    }
    std::string inner(name.substr(1, name.size() - 2));
    in6_addr a6{};
    if (inet_pton(AF_INET6, inner.c_str(), &a6) != 1) return false;
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (!valid_port(port)) return false;
    }
    if (!valid_dns_name(name)) return false;
  }
  *host_only = name;
  return true;
}

void build_https_location(std::string& out, std::string_view host_only, uint16_t https_port,
                          std::string_view target) {
  out.append("https://");
  out.append(host_only);
  if (https_port != 443) {
    out.push_back(':');
    http::append_uint(out, https_port);
  }
  out.append(target);
}

bool valid_acme_token(std::string_view token) {
  if (token.empty() || token.size() > 255) return false;
  for (char c : token) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool serve_acme_file(const std::string& webroot, std::string_view token, std::string* body) {
  if (!valid_acme_token(token)) return false;
  std::string path = webroot + "/.well-known/acme-challenge/" + std::string(token);
  char root_real[PATH_MAX];
  char file_real[PATH_MAX];
  if (realpath(webroot.c_str(), root_real) == nullptr) return false;
  if (realpath(path.c_str(), file_real) == nullptr) return false;
  std::string_view root(root_real);
  std::string_view file(file_real);
  if (file.size() <= root.size() || file.substr(0, root.size()) != root ||
      file[root.size()] != '/') {
    return false;  // a symlinked directory pointed outside the webroot
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= 64 * 1024;
  if (ok) {
    body->resize(static_cast<size_t>(st.st_size));
    ssize_t n = ::read(fd, body->data(), body->size());
    ok = n == st.st_size;
  }
  ::close(fd);
  return ok;
}

}  // namespace sluice
