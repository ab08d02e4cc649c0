// The TLS listener both TLS fuzz targets talk to: one ServerContext as sluice
// builds it, with two ECDSA certificates chosen by SNI ("a.test", the default;
// "b.test" with "*.b.test"), shared ticket keys and sluice's ALPN policy. The
// test PKI makes the keys and certificates at start-up, in a temporary
// directory removed at exit.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/unit/tls/test_pki.h"
#include "tls/context.h"
#include "tls/ticket_keys.h"

namespace sluice::fuzz {

struct TlsWorld {
  tls::testing::TempDir dir;
  std::shared_ptr<const tls::ServerContext> context;

  TlsWorld() {
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
      fprintf(stderr, "tls fuzz: %s\n", r.error().c_str());
      abort();
    }
    context = r.context;
  }
};

inline TlsWorld& tls_world() {
  static TlsWorld w;
  return w;
}

}  // namespace sluice::fuzz
