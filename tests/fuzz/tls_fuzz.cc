// libFuzzer target: a client's bytes on a TLS listener.
//
// One ServerContext as sluice builds it (two certificates chosen by SNI, one
// of them a wildcard, shared ticket keys, ALPN), one Session per input fed in
// reads of a size the first byte chooses. OpenSSL parses the records; what is
// sluice's here is the SNI and ALPN callbacks, the ticket key callback, the
// memory BIO and the Session state machine. Properties beyond the sanitizers:
// handshake() says Ok only with the handshake done, and a done handshake has
// no ALPN or http/1.1.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/unit/tls/test_pki.h"
#include "tls/context.h"
#include "tls/session.h"
#include "tls/ticket_keys.h"

namespace {

namespace tls = sluice::tls;

struct World {
  tls::testing::TempDir dir;
  std::shared_ptr<const tls::ServerContext> context;

  World() {
    tls::ServerOptions o;
    int n = 0;
    for (const tls::testing::CertSpec& spec :
         {tls::testing::CertSpec{"a.test", {"a.test"}},
          tls::testing::CertSpec{"b.test", {"b.test", "*.b.test"}}}) {
      EVP_PKEY* key = tls::testing::make_ec_key();
      X509* cert = tls::testing::make_cert(spec, key, nullptr, key);
      std::string c = dir.file("c" + std::to_string(n) + ".pem");
      std::string k = dir.file("k" + std::to_string(n) + ".pem");
      tls::testing::write_certs(c, {cert});
      tls::testing::write_key(k, key);
      X509_free(cert);
      EVP_PKEY_free(key);
      o.certificates.push_back({c, k});
      ++n;
    }
    o.ticket_keys = tls::TicketKeys::create();
    tls::ServerContext::BuildResult r = tls::ServerContext::build(o);
    if (!r.context) {
      fprintf(stderr, "tls_fuzz: %s\n", r.error().c_str());
      abort();
    }
    context = r.context;
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t read_size = 1 + data[0] % 32 * 64;
  std::unique_ptr<tls::Session> s = tls::Session::server(world().context);
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
      if (s->alpn() != "" && s->alpn() != "http/1.1") abort();
      r = s->read(plain, sizeof plain);
    } else if (r.status == tls::Status::Ok && !s->handshake_done()) {
      abort();  // "done" without a finished handshake
    }
    s->take_output(&out);  // what would go to the client
    if (r.status == tls::Status::Error || r.status == tls::Status::Closed) return 0;
  }
  s->feed_eof();
  if (!s->handshake_done()) s->handshake();
  return 0;
}
