// libFuzzer target: whole TLS handshakes with a sluice TLS listener.
//
// A real OpenSSL client (tests/unit/tls/client.h) meets a server Session on
// the ServerContext of tls_world.h. The input chooses what the client offers
// (server name: one of the listener's, a case or trailing-dot variant, or any
// bytes; ALPN list: usual ones or any names; TLS versions, including ones the
// listener refuses; TLS 1.2 cipher; tickets or not; whether to resume a
// session from a first handshake) and how the wire behaves (feed size, one
// byte of the client's stream altered in transit), then the request and the
// reply sent once the handshake is done. Random bytes (tls_fuzz) seldom make
// a ClientHello that gets past parsing; here every input is a valid handshake
// until the fuzzer's choices break it, so sluice's SNI, ALPN and ticket
// callbacks and the Session state machine run to the end.
//
// Properties beyond the sanitizers, for a handshake both ends finished:
//   - the certificate is the one sluice's rules pick for the name (exact
//     names, then one-label wildcards, lower case, one trailing dot ignored;
//     the first certificate otherwise);
//   - ALPN is "http/1.1" when offered, else "http/1.0" when offered, else
//     none, and a client offering only other protocols never finishes;
//   - client and server agree on whether the session was resumed, and on the
//     server name when it was not;
//   - the request reaches the server and the reply the client, byte for byte.
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/tls_world.h"
#include "tests/unit/tls/client.h"
#include "tls/session.h"

namespace {

namespace tls = sluice::tls;
namespace tt = sluice::tls::testing;
using sluice::fuzz::fail;

// The input, a byte at a time; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint8_t byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  // Up to `max` bytes (the length is the next byte), NUL and `avoid` replaced.
  std::string text(size_t max, char avoid = '\0') {
    size_t len = byte() % (max + 1);
    std::string s;
    for (size_t i = 0; i < len && n_ > 0; ++i) {
      char c = static_cast<char>(byte());
      s.push_back(c == '\0' || c == avoid ? 'x' : c);
    }
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// The certificate (by CN) sluice's rules pick for `sni`.
std::string expected_cn(const std::string& sni) {
  std::string h = sni;
  for (char& c : h) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h == "b.test") return "b.test";
  size_t dot = h.find('.');
  if (dot != std::string::npos && dot > 0 && h.substr(dot + 1) == "b.test") return "b.test";
  return "a.test";
}

bool offers(const std::string& alpn_list, std::string_view proto) {
  size_t start = 0;
  while (start <= alpn_list.size()) {
    size_t comma = alpn_list.find(',', start);
    if (comma == std::string::npos) comma = alpn_list.size();
    if (std::string_view(alpn_list).substr(start, comma - start) == proto) return true;
    start = comma + 1;
  }
  return false;
}

std::string choose_sni(Input& in) {
  static const char* const kFixed[] = {
      "",
      "a.test",
      "b.test",
      "www.b.test",
      "WWW.B.Test.",
      "deep.www.b.test",  // a wildcard covers one label only
  };
  const size_t pick = in.byte() % 8;
  return pick < std::size(kFixed) ? kFixed[pick] : in.text(64);
}

std::string choose_alpn(Input& in) {
  static const char* const kFixed[] = {"", "http/1.1", "h2,http/1.1", "http/1.0", "h2"};
  const size_t pick = in.byte() % 7;
  if (pick < std::size(kFixed)) return kFixed[pick];
  // One to four names of 1-12 bytes (the test client joins them with commas).
  std::string list;
  const int n = 1 + in.byte() % 4;
  for (int i = 0; i < n; ++i) {
    std::string name = in.text(12, ',');
    if (name.empty()) name = "x";
    if (!list.empty()) list.push_back(',');
    list += name;
  }
  return list;
}

void check_done(const tt::ClientOptions& o, tls::Session& client, tls::Session& server) {
  const bool h11 = offers(o.alpn, "http/1.1");
  const bool h10 = offers(o.alpn, "http/1.0");
  if (!o.alpn.empty() && !h11 && !h10) fail("finished while offering no HTTP/1.x", o.alpn);
  const std::string_view want_alpn = h11 ? "http/1.1" : h10 ? "http/1.0" : "";
  if (server.alpn() != want_alpn) fail("ALPN", server.alpn());
  if (client.alpn() != server.alpn()) fail("the ends disagree on ALPN", client.alpn());
  if (tt::peer_cn(client) != expected_cn(o.sni)) fail("certificate for the name", o.sni);
  const bool resumed = SSL_session_reused(client.native()) == 1;
  if (resumed != server.resumed()) fail("the ends disagree on resumption");
  if (!resumed && server.sni() != o.sni) fail("server name", server.sni());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  tt::ClientOptions o;
  o.sni = choose_sni(in);
  o.alpn = choose_alpn(in);
  const uint8_t v = in.byte();
  o.min_version = (v & 1) != 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
  o.max_version = (v & 2) != 0 ? TLS1_2_VERSION : TLS1_3_VERSION;  // may be below min: no start
  if ((v & 12) == 12) {                                            // what the listener refuses
    o.min_version = TLS1_VERSION;
    o.max_version = TLS1_1_VERSION;
    o.legacy = true;
  }
  static const char* const kCiphers[] = {"", "ECDHE-ECDSA-AES128-GCM-SHA256",
                                         "ECDHE-ECDSA-CHACHA20-POLY1305",
                                         "ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA"};
  o.ciphers = kCiphers[in.byte() % 5];
  const uint8_t flags = in.byte();
  o.no_ticket = (flags & 1) != 0;
  const bool resume = (flags & 2) != 0;
  const size_t chunk = (flags & 4) != 0 ? 1 + in.byte() % 64 * 8 : SIZE_MAX;
  tt::Tamper tamper;
  if ((flags & 8) != 0) {
    tamper.at = static_cast<size_t>(in.byte()) << 8 | in.byte();
    tamper.mask = static_cast<uint8_t>(in.byte() | 1);
  }
  std::string request = in.text(255);
  std::string reply = in.text(255);
  if (request.empty()) request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  if (reply.empty()) reply = "HTTP/1.1 204 No Content\r\n\r\n";

  const std::shared_ptr<const tls::ServerContext>& ctx = sluice::fuzz::tls_world().context;
  SSL_SESSION* saved = nullptr;
  if (resume) {  // a first, untouched handshake whose session the second one offers
    std::unique_ptr<tls::Session> c0, s0;
    tt::Wire w0;
    if (tt::connect(o, ctx, &c0, &s0, &w0)) saved = SSL_get1_session(c0->native());
  }
  o.session = saved;
  std::unique_ptr<tls::Session> client = tt::make_client(o);
  std::unique_ptr<tls::Session> server = tls::Session::server(ctx);
  if (client && server) {
    tt::Wire w;
    tt::Tamper* t = tamper.at != SIZE_MAX ? &tamper : nullptr;
    tt::pump(*client, *server, &w, chunk, t);
    if (client->handshake_done() && server->handshake_done()) {
      check_done(o, *client, *server);
      const size_t sent = client->write(request).bytes;
      tt::pump(*client, *server, &w, chunk, t);
      const size_t answered = server->write(reply).bytes;
      tt::pump(*client, *server, &w, chunk, t);
      if (t == nullptr || t->at >= t->passed) {  // no byte was altered
        if (sent != request.size() || answered != reply.size()) fail("a write fell short");
        if (w.server_received != request) fail("request bytes", w.server_received);
        if (w.client_received != reply) fail("reply bytes", w.client_received);
      }
    }
  }
  SSL_SESSION_free(saved);
  return 0;
}
