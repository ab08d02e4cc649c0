// libFuzzer target: a client connection's bytes through sluice's request path.
//
// The input is split into reads (its first byte sets the read size, as a slow
// or fast client would send), parsed as pipelined requests the way
// Downstream::parse_head and the exchange do, and every head that passes
// check_request_head is rewritten for the upstream. The property beyond "no
// crash, no sanitizer report": what sluice sends upstream parses back, by a
// fresh parser, as exactly one request with the same method, target and
// body framing, one Host, and no hop-by-hop header it should have removed —
// a proxy and its upstream that read one request differently is request
// smuggling. On a redirect_https listener the same head gets a 301 that
// echoes Host and target: it must read back with exactly that Location.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/headers.h"
#include "proxy/http/parser.h"
#include "proxy/redirect.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/http_feed.h"

namespace {

using sluice::fuzz::fail;
using sluice::http::Parser;

// The upstream request must read back as one head, consumed whole.
void check_forwarded(const sluice::http::MessageHead& in, const char* in_base,
                     const std::string& out) {
  Parser p(Parser::Kind::Request);
  p.set_max_headers(1000);  // sluice adds its own to the client's (up to 100)
  p.begin_message(out.data());
  Parser::Result r = p.execute(out.data(), out.size(), nullptr);
  if (r.event != Parser::Event::HeadComplete || r.consumed != out.size()) {
    fail("the upstream request does not parse back as one head", out);
  }
  const sluice::http::MessageHead& h = p.head();
  if (h.method != in.method) fail("method changed", out);
  if (h.url.view(out.data()) != in.url.view(in_base)) fail("target changed", out);
  if (h.chunked != in.chunked) fail("chunked framing changed", out);
  if (h.has_content_length != (in.has_content_length && !in.chunked) ||
      (h.has_content_length && h.content_length != in.content_length)) {
    fail("Content-Length changed", out);
  }
  int hosts = 0;
  for (const sluice::http::HeaderSpan& hs : h.headers) {
    sluice::http::Tok t = sluice::http::classify(hs.name.view(out.data()));
    if (t == sluice::http::Tok::Host) ++hosts;
    bool allowed_hop =
        in.upgrade && (t == sluice::http::Tok::Upgrade || t == sluice::http::Tok::Connection);
    if (t == sluice::http::Tok::TransferEncoding) allowed_hop = in.chunked;
    if (sluice::http::is_hop_by_hop(t) && !allowed_hop) fail("hop-by-hop header forwarded", out);
  }
  if (hosts != 1) fail("not exactly one Host upstream", out);
}

// A listener with redirect_https answers with a 301 whose Location echoes the
// Host and the target: it must parse back as one response whose only
// Location is exactly what was built (no header injection through either).
void check_redirect(const sluice::http::MessageHead& h, const char* base, std::string_view host) {
  std::string_view host_only;
  if (!sluice::valid_redirect_host(host, &host_only)) return;  // 400
  std::string location;
  sluice::build_https_location(location, host_only, 8443, h.url.view(base));
  sluice::http::ResponsePolicy policy;
  policy.set_lines_plain = "X-Frame-Options: DENY\r\n";
  sluice::http::ResponseContext ctx;
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  ctx.framing = sluice::http::Framing::Length;
  std::string out;
  sluice::http::build_local_response(out, 301, policy, ctx, location);
  Parser p(Parser::Kind::Response);
  p.begin_message(out.data());
  std::vector<sluice::http::Slice> body;
  Parser::Result r = p.execute(out.data(), out.size(), &body);
  if (r.event != Parser::Event::MessageComplete || r.consumed != out.size()) {
    fail("the redirect does not parse back as one response", out);
  }
  int locations = 0;
  for (const sluice::http::HeaderSpan& hs : p.head().headers) {
    if (!sluice::http::iequals(hs.name.view(out.data()), "location")) continue;
    ++locations;
    if (hs.value.view(out.data()) != location) fail("Location differs from what was built", out);
  }
  if (p.head().status != 301 || locations != 1) fail("not one 301 with one Location", out);
}

// False when sluice answers the head itself (4xx/5xx) and closes.
bool on_head(const Parser& parser) {
  const sluice::http::MessageHead& h = parser.head();
  const char* base = parser.base();
  sluice::http::HeadCheck c = sluice::http::check_request_head(h, base, 8192, 1 << 20);
  if (c.status != 0) return false;
  check_redirect(h, base, c.host);
  sluice::http::ForwardContext ctx;
  ctx.client_ip = "192.0.2.1";
  ctx.proto = "https";
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  ctx.default_host = "backend.internal";
  ctx.chunked_body = h.chunked;
  ctx.upgrade = h.upgrade;
  std::string out;
  sluice::http::build_upstream_request(out, h, base, ctx);
  check_forwarded(h, base, out);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t read_size = 1 + data[0] % 64 * 4;
  // Owned, exactly sized: the sanitizer sees any read past the client's bytes.
  std::vector<char> buf(data + 1, data + size);
  Parser parser(Parser::Kind::Request);
  parser.set_max_headers(100);
  size_t pos = 0;
  bool in_body = false;
  std::vector<sluice::http::Slice> body;
  for (int steps = 0; steps < 100000; ++steps) {
    if (!in_body && !parser.in_head()) {
      if (pos == buf.size()) break;
      parser.begin_message(buf.data() + pos);
    }
    // A read ends where the client's bytes so far end; the head stays in place.
    const size_t avail = std::min(read_size, buf.size() - pos);
    Parser::Result r =
        sluice::fuzz::feed(parser, buf.data() + pos, avail, in_body ? &body : nullptr);
    pos += r.consumed;
    switch (r.event) {
      case Parser::Event::Error:
        return 0;  // 400 and close
      case Parser::Event::NeedMore:
        if (pos == buf.size()) return 0;  // waits for more bytes
        break;
      case Parser::Event::HeadComplete:
        if (!on_head(parser)) return 0;
        in_body = true;
        parser.resume();
        break;
      case Parser::Event::MessageComplete:
        if (parser.head().upgrade) return 0;  // a tunnel from here on
        in_body = false;
        parser.resume();
        break;
    }
  }
  return 0;
}
