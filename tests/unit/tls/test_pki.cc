#include "tests/unit/tls/test_pki.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace sluice::tls::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sluice-tls-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

EVP_PKEY* make_rsa_key(int bits) {
  return EVP_RSA_gen(static_cast<unsigned>(bits));
}
EVP_PKEY* make_ec_key() {
  return EVP_EC_gen("P-256");
}

namespace {

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

X509* make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1000;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after_s);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  add_ext(x, issuer, NID_subject_key_identifier, "hash");
  add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
  }
  if (!spec.dns.empty()) {
    std::string san;
    for (const auto& d : spec.dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    add_ext(x, issuer, NID_subject_alt_name, san);
  }
  if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) throw std::runtime_error("X509_sign failed");
  return x;
}

void write_certs(const std::string& path, const std::vector<X509*>& certs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  for (X509* x : certs) PEM_write_X509(f, x);
  std::fclose(f);
}

void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

void write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace sluice::tls::testing
