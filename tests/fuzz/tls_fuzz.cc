// libFuzzer target: a client's bytes on a TLS listener.
//
// One ServerContext as sluice builds it (tls_world.h), one Session per input
// fed in reads of a size the first byte chooses. OpenSSL parses the records;
// what is sluice's here is the SNI and ALPN callbacks, the ticket key
// callback, the memory BIO and the Session state machine. Properties beyond
// the sanitizers: handshake() says Ok only with the handshake done, and a done
// handshake selected no ALPN or HTTP/1.x. Random bytes seldom get past the
// ClientHello's parsing; tls_handshake_fuzz drives whole handshakes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/tls_world.h"
#include "tls/session.h"

namespace tls = sluice::tls;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t read_size = 1 + data[0] % 32 * 64;
  std::unique_ptr<tls::Session> s = tls::Session::server(sluice::fuzz::tls_world().context);
  if (!s) return 0;
  std::string out;
  char plain[4096];
  for (size_t pos = 1; pos < size;) {
    const size_t n = std::min(read_size, size - pos);
    s->feed(reinterpret_cast<const char*>(data) + pos, n);
    pos += n;
    tls::IoResult r{};
    if (!s->handshake_done()) {
      r = s->handshake();
    }
    if (s->handshake_done() && r.status != tls::Status::Error) {
      if (s->alpn() != "" && s->alpn() != "http/1.1" && s->alpn() != "http/1.0") {
        sluice::fuzz::fail("ALPN other than HTTP/1.x", s->alpn());
      }
      r = s->read(plain, sizeof plain);
    } else if (r.status == tls::Status::Ok && !s->handshake_done()) {
      sluice::fuzz::fail("handshake() said done without a finished handshake");
    }
    s->take_output(&out);  // what would go to the client
    if (r.status == tls::Status::Error || r.status == tls::Status::Closed) return 0;
  }
  s->feed_eof();
  if (!s->handshake_done()) s->handshake();
  return 0;
}
