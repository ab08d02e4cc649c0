// Header names as tokens, and the two rewrites a proxy does: the request head
// sent upstream and the response head sent to the client.
//
// Everything here is a pure function of its inputs: no sockets, no clock, no
// globals. Output is appended to a caller-owned std::string whose capacity is
// reused from request to request, so the steady state allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/parser.h"
#include "proxy/http/text.h"

namespace sluice::http {

enum class Tok : uint8_t {
  Other,
  Host,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Trailer,
  TransferEncoding,
  Upgrade,
  ContentLength,
  Expect,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  XRealIp,
  XRequestId,
  Cookie,
  Traceparent,
};

// Case-insensitive classification of a header name.
Tok classify(std::string_view name);
// RFC 9110 7.6.1 connection-specific fields.
bool is_hop_by_hop(Tok t);

// Does the comma-separated list `value` contain `token` (case-insensitive)?
bool list_has_token(std::string_view value, std::string_view token);

// Header names listed in Connection: values, to be dropped with the
// Connection header itself. Bounded: past the cap extra names are ignored
// (they are still dropped if they are standard hop-by-hop names).
struct ConnectionTokens {
  static constexpr size_t kMax = 16;
  std::array<std::string_view, kMax> names{};
  size_t count = 0;
  bool close = false;
  bool keep_alive = false;
  bool upgrade = false;

  void add_list(std::string_view value);
  bool names_header(std::string_view name) const;
};

// The checks on a complete request head that llhttp leaves to the proxy, in
// this order, the first failure being the answer: HTTP/1.x only (505), no
// CONNECT (405), a target of at most `max_uri` bytes (414), in origin form or
// "*" for OPTIONS (400), without control characters (400); Expect only as
// 100-continue (417); exactly one Host on HTTP/1.1 and at most one on 1.0
// (400); a Content-Length within `max_body` (413). status 0: the request may
// go on.
struct HeadCheck {
  int status = 0;
  const char* reason = "";
  std::string_view host;  // the Host value; empty when there is none
  bool expect_continue = false;
};
HeadCheck check_request_head(const MessageHead& h, const char* base, size_t max_uri,
                             uint64_t max_body);

// What the upstream request needs that is not in the client's head.
struct ForwardContext {
  std::string_view client_ip;
  std::string_view proto;       // "http" | "https"
  std::string_view request_id;  // kept or generated
  // W3C trace context: when set, sent as `traceparent` and any client value
  // dropped (it was absent or invalid); when empty the client's is passed on.
  std::string_view traceparent;
  std::string_view default_host;  // used when the client sent no Host (HTTP/1.0)
  bool chunked_body = false;      // re-framed as chunked towards upstream
  bool upgrade = false;           // tunnel request: keep Upgrade, send Connection: upgrade
};

// Appends "METHOD URL HTTP/1.1\r\n" + rewritten headers + "\r\n" to `out`.
void build_upstream_request(std::string& out, const MessageHead& req, const char* base,
                            const ForwardContext& ctx);

// Response-side configuration, pre-rendered once per snapshot.
struct ResponsePolicy {
  std::string set_lines_plain;  // "Name: value\r\n"... without HSTS
  std::string set_lines_tls;    // with HSTS
  // Lower-case names dropped from upstream responses: `strip` plus the names
  // we set ourselves (ours replace the upstream's).
  std::vector<std::string> drop;
  bool drops(std::string_view name) const;
};

enum class Framing : uint8_t { Length, Chunked, Close, None };

// How an upstream response's body is framed towards the client: as the
// upstream framed it when it gave a length, re-chunked when it did not (or
// read to EOF and closed for an HTTP/1.0 client); nothing after a 101 that
// starts a tunnel or on a response that has no body (HEAD, 204, 304).
Framing response_framing(const MessageHead& resp, bool head_request, bool client_http10,
                         bool upgrade);

struct ResponseContext {
  std::string_view request_id;
  bool tls = false;
  bool keep_alive = true;  // client connection stays open after this response
  bool client_http10 = false;
  Framing framing = Framing::Length;
  bool upgrade = false;    // a 101 being forwarded
  std::string_view extra;  // more complete header lines (e.g. Set-Cookie), may be empty
};

// Appends the client-facing status line and headers for an upstream response.
void build_downstream_response(std::string& out, const MessageHead& resp, const char* base,
                               const ResponsePolicy& policy, const ResponseContext& ctx);

// A response sluice makes itself (errors, redirects): small text body, the
// security headers, X-Request-Id when known, Connection: close when closing.
void build_local_response(std::string& out, int status, const ResponsePolicy& policy,
                          const ResponseContext& ctx, std::string_view location = {});

// A 200 (or other) response with a small body sluice serves itself (ACME tokens).
void build_local_body_response(std::string& out, int status, const ResponsePolicy& policy,
                               const ResponseContext& ctx, std::string_view content_type,
                               std::string_view body);

// W3C traceparent "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>":
// true when `v` is one (version 00, ids not all zero); *trace_id gets the id.
bool parse_traceparent(std::string_view v, std::string_view* trace_id);

// 32 lower-case hex characters from two 64-bit random words.
void format_request_id(char out[32], uint64_t a, uint64_t b);

// Decimal / hex number appends without allocation beyond the string's growth.
void append_uint(std::string& out, uint64_t v);
void append_hex(std::string& out, uint64_t v);

}  // namespace sluice::http
