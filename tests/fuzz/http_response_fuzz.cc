// libFuzzer target: an upstream's bytes through sluice's response path.
//
// The first input byte chooses the read size and what the client asked
// (a HEAD request, HTTP/1.0, an Upgrade, whether the connection stays open);
// the rest is what the upstream sends. It is parsed the way
// Exchange::forward_response does (1xx other than 101 skipped), and each final
// head is rewritten for the client with response_framing and
// build_downstream_response. The property beyond "no crash, no sanitizer
// report": the client-facing head parses back, by a fresh parser, as one head
// with the same status, framed as response_framing said, with each security
// header exactly once, and without the hop-by-hop headers sluice removes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/headers.h"
#include "proxy/http/parser.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/http_feed.h"

namespace {

using sluice::fuzz::fail;
using sluice::http::Framing;
using sluice::http::Parser;
using sluice::http::Tok;

const sluice::http::ResponsePolicy& policy() {
  static const sluice::http::ResponsePolicy p = [] {
    sluice::http::ResponsePolicy r;
    r.set_lines_plain = "X-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff\r\n";
    r.set_lines_tls = r.set_lines_plain + "Strict-Transport-Security: max-age=63072000\r\n";
    r.drop = {"x-frame-options", "x-content-type-options", "strict-transport-security", "server"};
    return r;
  }();
  return p;
}

struct Client {
  bool head_request;
  bool http10;
  bool upgrade;  // the request asked for an Upgrade
  bool keep_alive;
  bool tls;
};

void check_client_head(const sluice::http::MessageHead& in, const Client& c, Framing framing,
                       const std::string& out) {
  Parser p(Parser::Kind::Response);
  p.set_max_headers(1000);  // sluice adds its own to the upstream's (up to 100)
  p.set_response_to_head(c.head_request);
  p.begin_message(out.data());
  std::vector<sluice::http::Slice> body;
  Parser::Result r = p.execute(out.data(), out.size(), &body);
  if (r.event == Parser::Event::Error || !p.head_done() || r.consumed != out.size() ||
      !body.empty()) {
    fail("the client-facing head does not parse back as one head", out);
  }
  const sluice::http::MessageHead& h = p.head();
  if (h.status != in.status) fail("status changed", out);
  if (h.status < 100 || h.status > 999) fail("status is not three digits", out);
  switch (framing) {
    case Framing::Length:
      if (!h.has_content_length || h.chunked || h.content_length != in.content_length) {
        fail("Content-Length framing lost", out);
      }
      break;
    case Framing::Chunked:
      if (!h.chunked || h.has_content_length) fail("chunked framing lost", out);
      break;
    case Framing::Close:
    case Framing::None:
      if (h.chunked || h.has_content_length) fail("framing header on an unframed body", out);
      break;
  }
  int frame = 0, nosniff = 0, hsts = 0;
  for (const sluice::http::HeaderSpan& hs : h.headers) {
    std::string_view name = hs.name.view(out.data());
    std::string_view value = hs.value.view(out.data());
    Tok t = sluice::http::classify(name);
    frame += sluice::http::iequals(name, "x-frame-options");
    nosniff += sluice::http::iequals(name, "x-content-type-options");
    hsts += sluice::http::iequals(name, "strict-transport-security");
    if (sluice::http::iequals(name, "server")) fail("a stripped header went through", out);
    if (t == Tok::Connection) {
      if (!sluice::http::iequals(value, "close") && !sluice::http::iequals(value, "keep-alive") &&
          !(framing == Framing::None && sluice::http::iequals(value, "upgrade"))) {
        fail("Connection is not sluice's own", out);
      }
      continue;
    }
    bool allowed = (t == Tok::TransferEncoding && framing == Framing::Chunked) ||
                   (t == Tok::Upgrade && c.upgrade && in.status == 101);
    if (sluice::http::is_hop_by_hop(t) && !allowed) fail("hop-by-hop header forwarded", out);
  }
  if (frame != 1 || nosniff != 1 || hsts != (c.tls ? 1 : 0)) {
    fail("security headers not exactly once", out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Client c{(data[0] & 1) != 0, (data[0] & 2) != 0, (data[0] & 4) != 0, (data[0] & 8) != 0,
                 (data[0] & 16) != 0};
  const size_t read_size = 1 + data[1] % 64 * 4;
  std::vector<char> buf(data + 2, data + size);
  Parser parser(Parser::Kind::Response);
  parser.set_response_to_head(c.head_request);
  size_t pos = 0;
  bool begun = false;
  bool head_sent = false;
  std::vector<sluice::http::Slice> body;
  for (int steps = 0; steps < 100000 && pos < buf.size(); ++steps) {
    if (!begun) {
      parser.begin_message(buf.data() + pos);
      begun = true;
    }
    const size_t avail = std::min(read_size, buf.size() - pos);
    Parser::Result r = sluice::fuzz::feed(parser, buf.data() + pos, avail, &body);
    pos += r.consumed;
    if (r.event == Parser::Event::Error) return 0;  // 502 to the client
    const sluice::http::MessageHead& h = parser.head();
    const bool informational = h.status >= 100 && h.status < 200 && h.status != 101;
    if (parser.head_done() && !head_sent && !informational) {
      const bool upgrade = h.status == 101 && c.upgrade;
      sluice::http::ResponseContext ctx;
      ctx.request_id = "0123456789abcdef0123456789abcdef";
      ctx.tls = c.tls;
      ctx.framing = sluice::http::response_framing(h, c.head_request, c.http10, upgrade);
      ctx.keep_alive = c.keep_alive && ctx.framing != Framing::Close && !upgrade;
      ctx.client_http10 = c.http10;
      ctx.upgrade = upgrade;
      std::string out;
      sluice::http::build_downstream_response(out, h, parser.base(), policy(), ctx);
      check_client_head(h, c, ctx.framing, out);
      head_sent = true;
    }
    if (r.event == Parser::Event::MessageComplete) {
      if (!informational) return 0;  // one response per request
      parser.resume();
      begun = false;
    }
  }
  return 0;
}
