#include "proxy/http/headers.h"

#include <array>
#include <charconv>
#include <cstring>

namespace sluice::http {

namespace {

constexpr char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// `lc` must be lower-case already.
bool iequals_lc(std::string_view s, std::string_view lc) {
  if (s.size() != lc.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lc[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename F>
void for_each_token(std::string_view value, F&& f) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

void append_line(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

}  // namespace

Tok classify(std::string_view n) {
  switch (n.size()) {
    case 2:
      if (iequals_lc(n, "te")) return Tok::Te;
      break;
    case 4:
      if (iequals_lc(n, "host")) return Tok::Host;
      break;
    case 6:
      if (iequals_lc(n, "expect")) return Tok::Expect;
      if (iequals_lc(n, "cookie")) return Tok::Cookie;
      break;
    case 7:
      if (iequals_lc(n, "upgrade")) return Tok::Upgrade;
      if (iequals_lc(n, "trailer")) return Tok::Trailer;
      break;
    case 9:
      if (iequals_lc(n, "x-real-ip")) return Tok::XRealIp;
      break;
    case 10:
      if (iequals_lc(n, "connection")) return Tok::Connection;
      if (iequals_lc(n, "keep-alive")) return Tok::KeepAlive;
      break;
    case 11:
      if (iequals_lc(n, "traceparent")) return Tok::Traceparent;
      break;
    case 12:
      if (iequals_lc(n, "x-request-id")) return Tok::XRequestId;
      break;
    case 14:
      if (iequals_lc(n, "content-length")) return Tok::ContentLength;
      break;
    case 15:
      if (iequals_lc(n, "x-forwarded-for")) return Tok::XForwardedFor;
      break;
    case 16:
      if (iequals_lc(n, "proxy-connection")) return Tok::ProxyConnection;
      if (iequals_lc(n, "x-forwarded-host")) return Tok::XForwardedHost;
      break;
    case 17:
      if (iequals_lc(n, "transfer-encoding")) return Tok::TransferEncoding;
      if (iequals_lc(n, "x-forwarded-proto")) return Tok::XForwardedProto;
      break;
    default:
      break;
  }
  return Tok::Other;
}

bool is_hop_by_hop(Tok t) {
  switch (t) {
    case Tok::Connection:
    case Tok::KeepAlive:
    case Tok::ProxyConnection:
    case Tok::Te:
    case Tok::Trailer:
    case Tok::TransferEncoding:
    case Tok::Upgrade:
      return true;
    default:
      return false;
  }
}

bool list_has_token(std::string_view value, std::string_view token) {
  bool found = false;
  for_each_token(value, [&](std::string_view item) { found = found || iequals(item, token); });
  return found;
}

void ConnectionTokens::add_list(std::string_view value) {
  for_each_token(value, [&](std::string_view item) {
    if (iequals_lc(item, "close")) {
      close = true;
    } else if (iequals_lc(item, "keep-alive")) {
      keep_alive = true;
    } else if (iequals_lc(item, "upgrade")) {
      upgrade = true;
    } else if (count < kMax) {
      names[count++] = item;
    }
  });
}

bool ConnectionTokens::names_header(std::string_view name) const {
  for (size_t i = 0; i < count; ++i) {
    if (iequals(names[i], name)) return true;
  }
  return false;
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_hex(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void build_upstream_request(std::string& out, const MessageHead& req, const char* base,
                            const ForwardContext& ctx) {
  ConnectionTokens conn;
  std::string_view host;
  for (const HeaderSpan& h : req.headers) {
    Tok t = classify(h.name.view(base));
    if (t == Tok::Connection) conn.add_list(h.value.view(base));
    if (t == Tok::Host && host.empty()) host = h.value.view(base);
  }

  std::string_view method = llhttp_method_name(req.method);
  out.append(method);
  out.push_back(' ');
  out.append(req.url.view(base));
  out.append(" HTTP/1.1\r\n", 11);

  bool wrote_host = false;
  bool have_xff = false;
  std::string_view upgrade_value;
  for (const HeaderSpan& h : req.headers) {
    std::string_view name = h.name.view(base);
    std::string_view value = h.value.view(base);
    Tok t = classify(name);
    switch (t) {
      case Tok::Host:
        if (wrote_host) continue;  // llhttp lets a duplicate Host through; send one
        wrote_host = true;
        break;
      case Tok::Upgrade:
        upgrade_value = value;
        continue;
      case Tok::XForwardedFor:
        // Combined below into one line with the client address appended.
        have_xff = true;
        continue;
      case Tok::Traceparent:
        if (!ctx.traceparent.empty()) continue;  // replaced below
        break;
      case Tok::XRealIp:
      case Tok::XForwardedProto:
      case Tok::XForwardedHost:
      case Tok::XRequestId:
      case Tok::Expect:  // sluice answers 100-continue itself
        continue;
      case Tok::ContentLength:
        if (ctx.chunked_body) continue;
        break;
      default:
        if (is_hop_by_hop(t)) continue;
        if (conn.count != 0 && conn.names_header(name)) continue;
        break;
    }
    append_line(out, name, value);
  }
  if (!wrote_host && !ctx.default_host.empty()) append_line(out, "Host", ctx.default_host);

  out.append("X-Forwarded-For: ", 17);
  if (have_xff) {
    for (const HeaderSpan& h : req.headers) {
      if (classify(h.name.view(base)) != Tok::XForwardedFor) continue;
      out.append(h.value.view(base));
      out.append(", ", 2);
    }
  }
  out.append(ctx.client_ip);
  out.append("\r\n", 2);
  append_line(out, "X-Real-IP", ctx.client_ip);
  append_line(out, "X-Forwarded-Proto", ctx.proto);
  if (!host.empty()) append_line(out, "X-Forwarded-Host", host);
  append_line(out, "X-Request-Id", ctx.request_id);
  if (!ctx.traceparent.empty()) append_line(out, "traceparent", ctx.traceparent);
  if (ctx.chunked_body) out.append("Transfer-Encoding: chunked\r\n", 28);
  if (ctx.upgrade && !upgrade_value.empty()) {
    append_line(out, "Upgrade", upgrade_value);
    out.append("Connection: upgrade\r\n", 21);
  }
  out.append("\r\n", 2);
}

bool ResponsePolicy::drops(std::string_view name) const {
  for (const std::string& d : drop) {
    if (iequals_lc(name, d)) return true;
  }
  return false;
}

namespace {

void append_status_line(std::string& out, int status, std::string_view reason) {
  out.append("HTTP/1.1 ", 9);
  append_uint(out, static_cast<uint64_t>(status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n", 2);
}

void append_common_tail(std::string& out, const ResponsePolicy& policy,
                        const ResponseContext& ctx) {
  out.append(ctx.tls ? policy.set_lines_tls : policy.set_lines_plain);
  if (!ctx.request_id.empty()) append_line(out, "X-Request-Id", ctx.request_id);
  out.append(ctx.extra);
  if (ctx.upgrade) {
    out.append("Connection: upgrade\r\n", 21);
  } else if (!ctx.keep_alive) {
    out.append("Connection: close\r\n", 19);
  } else if (ctx.client_http10) {
    out.append("Connection: keep-alive\r\n", 24);
  }
  out.append("\r\n", 2);
}

}  // namespace

void build_downstream_response(std::string& out, const MessageHead& resp, const char* base,
                               const ResponsePolicy& policy, const ResponseContext& ctx) {
  ConnectionTokens conn;
  for (const HeaderSpan& h : resp.headers) {
    if (classify(h.name.view(base)) == Tok::Connection) conn.add_list(h.value.view(base));
  }
  std::string_view reason = resp.reason.view(base);
  append_status_line(out, resp.status, reason.empty() ? reason_phrase(resp.status) : reason);
  for (const HeaderSpan& h : resp.headers) {
    std::string_view name = h.name.view(base);
    Tok t = classify(name);
    if (t == Tok::Upgrade && ctx.upgrade) {
      append_line(out, name, h.value.view(base));
      continue;
    }
    if (is_hop_by_hop(t) || t == Tok::XRequestId) continue;
    if (t == Tok::ContentLength && ctx.framing != Framing::Length) continue;
    if (conn.count != 0 && conn.names_header(name)) continue;
    if (policy.drops(name)) continue;
    append_line(out, name, h.value.view(base));
  }
  if (ctx.framing == Framing::Chunked) out.append("Transfer-Encoding: chunked\r\n", 28);
  append_common_tail(out, policy, ctx);
}

void build_local_response(std::string& out, int status, const ResponsePolicy& policy,
                          const ResponseContext& ctx, std::string_view location) {
  std::string_view reason = reason_phrase(status);
  append_status_line(out, status, reason);
  out.append("Content-Type: text/plain; charset=utf-8\r\n", 41);
  // Body: "301 Moved Permanently\n"
  out.append("Content-Length: ", 16);
  append_uint(out, 3 + 1 + reason.size() + 1);
  out.append("\r\n", 2);
  if (!location.empty()) append_line(out, "Location", location);
  append_common_tail(out, policy, ctx);
  append_uint(out, static_cast<uint64_t>(status));
  out.push_back(' ');
  out.append(reason);
  out.push_back('\n');
}

void build_local_body_response(std::string& out, int status, const ResponsePolicy& policy,
                               const ResponseContext& ctx, std::string_view content_type,
                               std::string_view body) {
  append_status_line(out, status, reason_phrase(status));
  append_line(out, "Content-Type", content_type);
  out.append("Content-Length: ", 16);
  append_uint(out, body.size());
  out.append("\r\n", 2);
  append_common_tail(out, policy, ctx);
  out.append(body);
}

bool parse_traceparent(std::string_view v, std::string_view* trace_id) {
  auto hex = [](std::string_view h) {
    bool nonzero = false;
    for (char c : h) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
      nonzero = nonzero || c != '0';
    }
    return nonzero;
  };
  if (v.size() != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  if (v.substr(0, 2) != "00") return false;
  if (!hex(v.substr(3, 32)) || !hex(v.substr(36, 16))) return false;
  std::string_view flags = v.substr(53, 2);
  for (char c : flags) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *trace_id = v.substr(3, 32);
  return true;
}

namespace {
// "00".."ff": two digits per table lookup (a digit per lookup cost 330
// instructions per request id).
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (int i = 0; i < 256; ++i) {
    t[2 * i] = kHex[i >> 4];
    t[2 * i + 1] = kHex[i & 0xf];
  }
  return t;
}();

void hex64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    std::memcpy(out + 2 * i, &kHexPairs[2 * ((v >> (56 - 8 * i)) & 0xff)], 2);
  }
}
}  // namespace

void format_request_id(char out[32], uint64_t a, uint64_t b) {
  hex64(out, a);
  hex64(out + 16, b);
}

HeadCheck check_request_head(const MessageHead& h, const char* base, size_t max_uri,
                             uint64_t max_body) {
  HeadCheck c;
  auto fail = [&c](int status, const char* reason) {
    c.status = status;
    c.reason = reason;
    return c;
  };
  if (h.http_major != 1) return fail(505, "unsupported HTTP version");
  if (h.method == HTTP_CONNECT) return fail(405, "CONNECT is not supported");
  std::string_view url = h.url.view(base);
  if (url.size() > max_uri) return fail(414, "request line too long");
  if (url.empty() || (url[0] != '/' && !(url == "*" && h.method == HTTP_OPTIONS))) {
    return fail(400, "request target is not in origin form");
  }
  // llhttp lets a tab or form feed through in the target; a control byte
  // there is not a URI (RFC 3986), and sluice would pass it upstream and
  // echo it into a redirect's Location.
  for (char ch : url) {
    auto b = static_cast<unsigned char>(ch);
    if (b <= 0x20 || b == 0x7f) return fail(400, "control character in the request target");
  }
  int hosts = 0;
  for (const HeaderSpan& hs : h.headers) {
    Tok t = classify(hs.name.view(base));
    if (t == Tok::Host) {
      ++hosts;
      c.host = hs.value.view(base);
    } else if (t == Tok::Expect) {
      if (!iequals(hs.value.view(base), "100-continue")) return fail(417, "unsupported Expect");
      c.expect_continue = true;
    }
  }
  if (hosts > 1) return fail(400, "several Host headers");
  if (hosts == 0 && h.http_minor >= 1) return fail(400, "missing Host header");
  if (h.has_content_length && h.content_length > max_body) {
    return fail(413, "request body over max_body_bytes");
  }
  return c;
}

Framing response_framing(const MessageHead& resp, bool head_request, bool client_http10,
                         bool upgrade) {
  if (upgrade) return Framing::None;
  if (head_request || resp.status == 204 || resp.status == 304) {
    return resp.has_content_length ? Framing::Length : Framing::None;
  }
  if (resp.has_content_length && !resp.chunked) return Framing::Length;
  return client_http10 ? Framing::Close : Framing::Chunked;
}

}  // namespace sluice::http
