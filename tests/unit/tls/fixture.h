// Shared test certificates, generated once per test binary run.
#pragma once

#include <memory>
#include <string>

#include "tests/unit/tls/test_pki.h"
#include "tls/context.h"

namespace sluice::tls::testing {

struct Pki {
  TempDir dir;
  // root CA -> intermediate CA -> leaves; chain files hold leaf + intermediate.
  std::string rsa_cert, rsa_key;          // RSA   "rsa.example.com": example.com, www.example.com
  std::string ec_cert, ec_key;            // ECDSA "ec.example.com":  example.com, www.example.com
  std::string wild_cert, wild_key;        // ECDSA "wild": *.wild.test
  std::string other_cert, other_key;      // RSA   "other": other.test
  std::string expired_cert, expired_key;  // expired yesterday
  std::string near_cert, near_key;        // expires in 5 days minus an hour
  std::string nosan_cert, nosan_key;      // CN only, self-signed
  std::string wrong_order_cert;           // leaf, root, intermediate (key: rsa_key)
  std::string wrong_issuer_cert;          // leaf + unrelated CA (key: rsa_key)
  std::string garbage;                    // not PEM
};

const Pki& pki();

// ServerOptions with the given certificate pairs and sensible test defaults.
ServerOptions options(std::initializer_list<std::pair<std::string, std::string>> certs);
std::shared_ptr<const ServerContext> build_or_die(const ServerOptions& o);

}  // namespace sluice::tls::testing
