// Certificate files: loading PEM chains and keys, their names, and the offline
// check behind `sluice --check`.
//
// Pure functions of files and an injected clock; no SSL_CTX, no global state.
// Safe to call from any thread. Errors are returned as strings meant for an
// operator, always naming the file: "cert /x.pem: no such file",
// "key /k.pem does not match certificate /c.pem". Nothing here throws.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <vector>

struct x509_st;
struct evp_pkey_st;

namespace sluice::tls {

// One [[tls.certificate]] entry.
struct CertificateFiles {
  std::string cert_path;  // PEM: leaf first, then intermediates (leaf-to-root order)
  std::string key_path;   // PEM private key, unencrypted
};

// A parsed, key-checked certificate entry. Owns its OpenSSL objects.
struct LoadedCertificate {
  LoadedCertificate();
  ~LoadedCertificate();
  LoadedCertificate(const LoadedCertificate&) = delete;
  LoadedCertificate& operator=(const LoadedCertificate&) = delete;

  CertificateFiles files;
  x509_st* leaf = nullptr;
  std::vector<x509_st*> chain;  // intermediates, in file order (owned)
  evp_pkey_st* key = nullptr;
  int key_type = 0;           // EVP_PKEY_get_base_id(): EVP_PKEY_RSA, EVP_PKEY_EC, ...
  std::string key_type_name;  // "RSA", "ECDSA", "Ed25519", ...
  // DNS subjectAltNames, lower-case ("example.com", "*.example.com"); the subject
  // CN when the certificate has no DNS SAN at all (legacy certificates).
  std::vector<std::string> names;
  std::time_t not_after = 0;  // the leaf's notAfter, seconds since the epoch (UTC)
};

// Reads and parses both files and checks that the key matches the leaf.
// On failure returns nullptr and appends one message per problem to *errors.
std::unique_ptr<LoadedCertificate> load_certificate(const CertificateFiles& files,
                                                    std::vector<std::string>* errors);

struct CertificateCheck {
  std::vector<std::string> errors;    // the config must be refused
  std::vector<std::string> warnings;  // print, but accept
  bool ok() const { return errors.empty(); }
};

// For `sluice --check`: files readable and parseable, key matches the leaf,
// chain order (each certificate issued and signed by the next one), expiry:
// an expired or not-yet-valid certificate in the chain is an error, one expiring
// within `warn_days` of `now` a warning.
CertificateCheck check_certificate(const std::string& cert_path, const std::string& key_path,
                                   std::time_t now = std::time(nullptr), int warn_days = 14);

// SNI name matching as used for certificate selection: `pattern` is a SAN
// ("example.com" or "*.example.com"), `host` the lower-case server name. A
// wildcard covers exactly one non-empty leftmost label.
bool name_matches(const std::string& pattern, const std::string& host);

}  // namespace sluice::tls
