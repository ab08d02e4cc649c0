#include "tests/unit/tls/fixture.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sluice::tls::testing {

namespace {

Pki* generate() {
  auto* p = new Pki();
  EVP_PKEY* root_key = make_ec_key();
  X509* root =
      make_cert({"Sluice Test Root", {}, -86400, 3650L * 86400, true}, root_key, nullptr, root_key);
  EVP_PKEY* int_key = make_ec_key();
  X509* inter = make_cert({"Sluice Test Intermediate", {}, -86400, 3650L * 86400, true}, int_key,
                          root, root_key);

  auto leaf = [&](const std::string& name, CertSpec spec, EVP_PKEY* key, std::string* cert_path,
                  std::string* key_path) {
    X509* x = make_cert(spec, key, inter, int_key);
    *cert_path = p->dir.file(name + ".crt");
    *key_path = p->dir.file(name + ".key");
    write_certs(*cert_path, {x, inter});
    write_key(*key_path, key);
    return x;
  };

  EVP_PKEY* rsa = make_rsa_key(2048);
  EVP_PKEY* ec = make_ec_key();
  EVP_PKEY* ec2 = make_ec_key();
  EVP_PKEY* rsa2 = make_rsa_key(2048);
  X509* rsa_leaf = leaf("rsa", {"rsa.example.com", {"example.com", "www.example.com"}}, rsa,
                        &p->rsa_cert, &p->rsa_key);
  X509_free(leaf("ec", {"ec.example.com", {"example.com", "www.example.com"}}, ec, &p->ec_cert,
                 &p->ec_key));
  X509_free(leaf("wild", {"wild", {"*.wild.test"}}, ec2, &p->wild_cert, &p->wild_key));
  X509_free(leaf("other", {"other", {"other.test"}}, rsa2, &p->other_cert, &p->other_key));
  X509_free(leaf("expired", {"expired", {"expired.test"}, -10L * 86400, -86400}, ec,
                 &p->expired_cert, &p->expired_key));
  X509_free(leaf("near", {"near", {"near.test"}, -86400, 5L * 86400 - 3600}, ec, &p->near_cert,
                 &p->near_key));

  X509* nosan = make_cert({"nosan.test", {}}, ec, nullptr, ec);
  p->nosan_cert = p->dir.file("nosan.crt");
  p->nosan_key = p->dir.file("nosan.key");
  write_certs(p->nosan_cert, {nosan});
  write_key(p->nosan_key, ec);

  p->wrong_order_cert = p->dir.file("wrong-order.crt");
  // Leaf first (so the key matches), then the root before the intermediate.
  write_certs(p->wrong_order_cert, {rsa_leaf, root, inter});
  EVP_PKEY* other_ca_key = make_ec_key();
  X509* other_ca = make_cert({"Unrelated CA", {}, -86400, 3650L * 86400, true}, other_ca_key,
                             nullptr, other_ca_key);
  p->wrong_issuer_cert = p->dir.file("wrong-issuer.crt");
  write_certs(p->wrong_issuer_cert, {rsa_leaf, other_ca});

  p->garbage = p->dir.file("garbage.pem");
  write_text(p->garbage, "this is not a certificate\n");

  for (X509* x : {root, inter, rsa_leaf, nosan, other_ca}) X509_free(x);
  for (EVP_PKEY* k : {root_key, int_key, rsa, ec, ec2, rsa2, other_ca_key}) EVP_PKEY_free(k);
  return p;
}

Pki* g_pki = nullptr;

// Removes the temporary directory after the last test.
class PkiEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete g_pki;
    g_pki = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new PkiEnvironment);

}  // namespace

const Pki& pki() {
  if (!g_pki) g_pki = generate();  // tests run on the main thread; generated on first use
  return *g_pki;
}

ServerOptions options(std::initializer_list<std::pair<std::string, std::string>> certs) {
  ServerOptions o;
  for (const auto& [c, k] : certs) o.certificates.push_back({c, k});
  return o;
}

std::shared_ptr<const ServerContext> build_or_die(const ServerOptions& o) {
  auto r = ServerContext::build(o);
  if (!r.context) throw std::runtime_error("ServerContext::build: " + r.error());
  return r.context;
}

}  // namespace sluice::tls::testing
