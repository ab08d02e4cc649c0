// Plain-HTTP listeners with redirect_https: the 301 to HTTPS and the ACME
// http-01 webroot. Pure functions except serve_acme_file(), which reads one
// small file (certbot's tokens are tens of bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// A Host header value that is safe to echo into Location: a DNS name, an
// IPv4 address or a bracketed IPv6 address, with an optional port.
// *host_only gets it without the port. No CR, LF, spaces, '/', '@', '?'...
bool valid_redirect_host(std::string_view host, std::string_view* host_only);

// https://HOST[:port]/path?query (no port when it is 443).
void build_https_location(std::string& out, std::string_view host_only, uint16_t https_port,
                          std::string_view target);

constexpr std::string_view kAcmePrefix = "/.well-known/acme-challenge/";

// Token characters as certbot writes them: base64url only (no '.', '/', '%').
bool valid_acme_token(std::string_view token);

// Reads webroot/.well-known/acme-challenge/TOKEN into *body. Refuses
// symlinks and anything that resolves outside the webroot; files over
// 64 KiB; non-regular files. False when there is no such file.
bool serve_acme_file(const std::string& webroot, std::string_view token, std::string* body);

}  // namespace sluice
