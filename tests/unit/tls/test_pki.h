// Test-only PKI: keys and certificates generated with the OpenSSL API into a
// temporary directory, so the tests need no fixtures on disk and no `openssl` CLI.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

namespace sluice::tls::testing {

// A directory under $TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

EVP_PKEY* make_rsa_key(int bits = 2048);
EVP_PKEY* make_ec_key();  // P-256

struct CertSpec {
  std::string cn;
  std::vector<std::string> dns;  // subjectAltName DNS entries (none: no SAN extension)
  long not_before_s = -3600;     // relative to now
  long not_after_s = 30L * 86400;
  bool ca = false;
};

// Signs with issuer_key; issuer == nullptr means self-signed (issuer_key must be `key`).
X509* make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key);

void write_certs(const std::string& path, const std::vector<X509*>& certs);
void write_key(const std::string& path, EVP_PKEY* key);
void write_text(const std::string& path, const std::string& text);

}  // namespace sluice::tls::testing
