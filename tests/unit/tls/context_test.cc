// ServerContext: building, versions, SNI, key-type selection, ALPN, errors.
#include "tls/context.h"

#include <gtest/gtest.h>

#include "tests/unit/tls/client.h"
#include "tests/unit/tls/fixture.h"

namespace sluice::tls {
namespace {

using testing::ClientOptions;
using testing::connect;
using testing::options;
using testing::peer_cn;
using testing::peer_key_type;
using testing::pki;
using testing::Wire;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::shared_ptr<const ServerContext> multi_cert_context(const std::string& min_version = "1.2") {
  const auto& p = pki();
  auto o = options({{p.rsa_cert, p.rsa_key},
                    {p.ec_cert, p.ec_key},
                    {p.wild_cert, p.wild_key},
                    {p.other_cert, p.other_key}});
  o.min_version = min_version;
  return testing::build_or_die(o);
}

// --- protocol versions -------------------------------------------------------

class VersionTest : public ::testing::TestWithParam<int> {};

TEST_P(VersionTest, HandshakeAndDataOverMemoryBios) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.min_version = o.max_version = GetParam();
  o.sni = "example.com";
  o.alpn = "http/1.1";
  std::unique_ptr<Session> c, s;
  Wire w;
  ASSERT_TRUE(connect(o, ctx, &c, &s, &w)) << s->error() << " / " << c->error();
  EXPECT_EQ(s->version(), GetParam() == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
  EXPECT_EQ(c->version(), s->version());
  EXPECT_EQ(s->alpn(), "http/1.1");
  EXPECT_EQ(c->alpn(), "http/1.1");
  EXPECT_EQ(s->sni(), "example.com");
  EXPECT_FALSE(s->resumed());
  EXPECT_FALSE(s->cipher().empty());

  EXPECT_EQ(c->write("GET / HTTP/1.1\r\n\r\n").bytes, 18u);
  EXPECT_EQ(s->write("HTTP/1.1 200 OK\r\n\r\n").bytes, 19u);
  testing::pump(*c, *s, &w);
  EXPECT_EQ(w.server_received, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(w.client_received, "HTTP/1.1 200 OK\r\n\r\n");
}

INSTANTIATE_TEST_SUITE_P(Tls12And13, VersionTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) {
                           return info.param == TLS1_3_VERSION ? "TLS13" : "TLS12";
                         });

class OldVersionTest : public ::testing::TestWithParam<int> {};

TEST_P(OldVersionTest, Refused) {
  auto ctx = multi_cert_context();
  uint64_t failed_before = ctx->counters().failed.load();
  ClientOptions o;
  o.min_version = o.max_version = GetParam();
  o.legacy = true;
  std::unique_ptr<Session> c, s;
  Wire w;
  EXPECT_FALSE(connect(o, ctx, &c, &s, &w));
  EXPECT_EQ(w.server_status, Status::Error);
  EXPECT_TRUE(contains(s->error(), "unsupported protocol")) << s->error();
  EXPECT_EQ(w.client_status, Status::Error);  // the client got the protocol_version alert
  EXPECT_EQ(ctx->counters().failed.load(), failed_before + 1);
}

INSTANTIATE_TEST_SUITE_P(Tls10And11, OldVersionTest,
                         ::testing::Values(TLS1_VERSION, TLS1_1_VERSION), [](const auto& info) {
                           return info.param == TLS1_VERSION ? "TLS10" : "TLS11";
                         });

TEST(MinVersion, Tls13OnlyRefusesTls12) {
  auto ctx = multi_cert_context("1.3");
  ClientOptions o;
  o.max_version = TLS1_2_VERSION;
  std::unique_ptr<Session> c, s;
  Wire w;
  EXPECT_FALSE(connect(o, ctx, &c, &s, &w));
  EXPECT_EQ(w.server_status, Status::Error);
  EXPECT_TRUE(contains(s->error(), "unsupported protocol")) << s->error();

  o.max_version = TLS1_3_VERSION;
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  EXPECT_EQ(s->version(), "TLSv1.3");
}

// --- SNI ---------------------------------------------------------------------

struct SniCase {
  const char* sni;
  const char* expected_cn;
};

class SniTest : public ::testing::TestWithParam<SniCase> {};

TEST_P(SniTest, PicksCertificate) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.sni = GetParam().sni;
  o.sigalgs = "RSA-PSS+SHA256:RSA+SHA256:ECDSA+SHA256";  // any key type works
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(o, ctx, &c, &s)) << s->error();
  std::string cn = peer_cn(*c);
  // example.com has both an RSA and an ECDSA certificate; either is right here.
  if (std::string(GetParam().expected_cn) == "example") {
    EXPECT_TRUE(cn == "rsa.example.com" || cn == "ec.example.com") << cn;
  } else {
    EXPECT_EQ(cn, GetParam().expected_cn);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Names, SniTest,
    ::testing::Values(SniCase{"other.test", "other"},
                      SniCase{"OTHER.test.", "other"},  // case, trailing dot
                      SniCase{"www.example.com", "example"}, SniCase{"a.wild.test", "wild"},
                      SniCase{"b.wild.test", "wild"},
                      SniCase{"a.b.wild.test",
                              "rsa.example.com"},               // wildcard covers one label only
                      SniCase{"wild.test", "rsa.example.com"},  // nor the bare domain
                      SniCase{"unknown.invalid", "rsa.example.com"},  // default: the first entry
                      SniCase{"", "rsa.example.com"}));               // no SNI: default

TEST(Sni, SelectedEntryTable) {
  auto ctx = multi_cert_context();
  EXPECT_EQ(ctx->selected_entry("example.com", "RSA"), 0);
  EXPECT_EQ(ctx->selected_entry("example.com", "ECDSA"), 1);
  EXPECT_EQ(ctx->selected_entry("x.wild.test", "ECDSA"), 2);
  EXPECT_EQ(ctx->selected_entry("x.wild.test", "RSA"), -1);
  EXPECT_EQ(ctx->selected_entry("other.test", "RSA"), 3);
  EXPECT_EQ(ctx->selected_entry("nope.test", "RSA"), 0);
  EXPECT_EQ(ctx->selected_entry("nope.test", "ECDSA"), 1);  // the default has both key types
}

TEST(Sni, NameMatching) {
  EXPECT_TRUE(name_matches("*.example.com", "a.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "example.com"));
  EXPECT_FALSE(name_matches("*.example.com", ".example.com"));
  EXPECT_TRUE(name_matches("example.com", "example.com"));
  EXPECT_FALSE(name_matches("example.com", "www.example.com"));
}

// --- RSA vs ECDSA --------------------------------------------------------------

struct KeyTypeCase {
  int version;
  const char* sigalgs;
  const char* ciphers;
  const char* expected;
};

class KeyTypeTest : public ::testing::TestWithParam<KeyTypeCase> {};

TEST_P(KeyTypeTest, ClientCapabilityDecides) {
  auto ctx = multi_cert_context();
  for (const char* sni : {"example.com", "www.example.com", ""}) {  // "" = default selection
    ClientOptions o;
    o.sni = sni;
    o.min_version = o.max_version = GetParam().version;
    o.sigalgs = GetParam().sigalgs;
    o.ciphers = GetParam().ciphers;
    std::unique_ptr<Session> c, s;
    ASSERT_TRUE(connect(o, ctx, &c, &s)) << s->error();
    EXPECT_EQ(peer_key_type(*c), GetParam().expected) << "sni=" << sni;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sigalgs, KeyTypeTest,
    ::testing::Values(KeyTypeCase{TLS1_3_VERSION, "ECDSA+SHA256", "", "ECDSA"},
                      KeyTypeCase{TLS1_3_VERSION, "RSA-PSS+SHA256", "", "RSA"},
                      KeyTypeCase{TLS1_2_VERSION, "ECDSA+SHA256", "", "ECDSA"},
                      KeyTypeCase{TLS1_2_VERSION, "RSA+SHA256:RSA-PSS+SHA256", "", "RSA"},
                      KeyTypeCase{TLS1_2_VERSION, "", "ECDHE-RSA-AES128-GCM-SHA256", "RSA"},
                      KeyTypeCase{TLS1_2_VERSION, "", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA"}));

TEST(KeyType, OnlyRsaClientGetsNothingWhereOnlyEcdsaExists) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.sni = "a.wild.test";  // ECDSA only
  o.sigalgs = "RSA-PSS+SHA256:RSA+SHA256";
  std::unique_ptr<Session> c, s;
  Wire w;
  EXPECT_FALSE(connect(o, ctx, &c, &s, &w));
  EXPECT_EQ(w.server_status, Status::Error);
  EXPECT_FALSE(s->error().empty());
}

// --- ALPN ----------------------------------------------------------------------

TEST(Alpn, SelectsHttp11AmongOthers) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.alpn = "h2,http/1.1";
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  EXPECT_EQ(s->alpn(), "http/1.1");
  EXPECT_EQ(c->alpn(), "http/1.1");
}

TEST(Alpn, Http10WhenOnlyThatIsOffered) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.alpn = "h2,http/1.0";
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  EXPECT_EQ(s->alpn(), "http/1.0");
  o.alpn = "http/1.0,http/1.1";  // our preference wins
  ASSERT_TRUE(connect(o, ctx, &c, &s));
  EXPECT_EQ(s->alpn(), "http/1.1");
}

TEST(Alpn, NoAlpnIsAccepted) {
  auto ctx = multi_cert_context();
  std::unique_ptr<Session> c, s;
  ASSERT_TRUE(connect(ClientOptions{}, ctx, &c, &s));
  EXPECT_EQ(s->alpn(), "");
}

TEST(Alpn, OnlyUnsupportedProtocolsAreRefused) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.alpn = "h2";
  std::unique_ptr<Session> c, s;
  Wire w;
  EXPECT_FALSE(connect(o, ctx, &c, &s, &w));
  EXPECT_EQ(w.client_status, Status::Error);
  EXPECT_TRUE(contains(c->error(), "no application protocol")) << c->error();
}

// --- renegotiation ---------------------------------------------------------------

TEST(Renegotiation, RefusedByServer) {
  auto ctx = multi_cert_context();
  ClientOptions o;
  o.max_version = TLS1_2_VERSION;
  std::unique_ptr<Session> c, s;
  Wire w;
  ASSERT_TRUE(connect(o, ctx, &c, &s, &w));
  ASSERT_EQ(SSL_renegotiate(c->native()), 1);
  (void)c->handshake();  // sends a new ClientHello
  testing::pump(*c, *s, &w);
  // The server answers the new ClientHello with a no_renegotiation alert; the
  // OpenSSL client gives up with a fatal alert of its own.
  EXPECT_EQ(w.client_status, Status::Error) << c->error();
  EXPECT_TRUE(contains(c->error(), "no renegotiation")) << c->error();
  EXPECT_EQ(w.server_status, Status::Error);
  EXPECT_EQ(w.server_received, "");
  EXPECT_EQ(ctx->counters().failed.load(), 0u);  // not a handshake failure: the first one completed
}

// --- build errors ------------------------------------------------------------------

TEST(Build, MissingFiles) {
  ServerOptions o;
  o.certificates.push_back({"/nonexistent/x.pem", "/nonexistent/k.pem"});
  auto r = ServerContext::build(o);
  EXPECT_EQ(r.context, nullptr);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], "cert /nonexistent/x.pem: no such file");
  EXPECT_EQ(r.errors[1], "key /nonexistent/k.pem: no such file");
  EXPECT_EQ(r.error(),
            "cert /nonexistent/x.pem: no such file; key /nonexistent/k.pem: no such file");
}

TEST(Build, KeyMismatch) {
  const auto& p = pki();
  auto r = ServerContext::build(options({{p.rsa_cert, p.ec_key}}));
  EXPECT_EQ(r.context, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "key " + p.ec_key + " does not match certificate " + p.rsa_cert);
}

TEST(Build, GarbageFiles) {
  const auto& p = pki();
  auto r = ServerContext::build(options({{p.garbage, p.garbage}}));
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], "cert " + p.garbage + ": no PEM certificate found");
  EXPECT_EQ(r.errors[1], "key " + p.garbage + ": no usable PEM private key (not a PEM file)");
  r = ServerContext::build(options({{p.dir.path(), p.rsa_key}}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "cert " + p.dir.path() + ": is a directory");
}

TEST(Build, BadOptions) {
  const auto& p = pki();
  auto o = options({{p.rsa_cert, p.rsa_key}});
  o.min_version = "1.1";
  auto r = ServerContext::build(o);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "tls.min_version \"1.1\": must be \"1.2\" or \"1.3\"");

  o.min_version = "1.2";
  o.ciphers = "NOT-A-CIPHER";
  o.ciphersuites = "TLS_BOGUS";
  r = ServerContext::build(o);
  ASSERT_EQ(r.errors.size(), 2u) << r.error();
  EXPECT_TRUE(contains(r.errors[0], "tls.ciphers \"NOT-A-CIPHER\": no usable cipher"))
      << r.errors[0];
  EXPECT_TRUE(contains(r.errors[1], "tls.ciphersuites \"TLS_BOGUS\"")) << r.errors[1];

  r = ServerContext::build(ServerOptions{});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "tls: at least one certificate is required");
}

TEST(Build, NeverServedCertificateWarns) {
  const auto& p = pki();
  auto r = ServerContext::build(
      options({{p.rsa_cert, p.rsa_key}, {p.rsa_cert, p.rsa_key}, {p.ec_cert, p.ec_key}}));
  ASSERT_NE(r.context, nullptr) << r.error();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "never served")) << r.warnings[0];
}

TEST(Build, CustomCiphersAndExpiredCertStillLoad) {
  const auto& p = pki();
  auto o = options({{p.expired_cert, p.expired_key}});  // like nginx: serve it, --check complains
  o.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  o.ciphersuites = "TLS_AES_256_GCM_SHA384";
  auto ctx = testing::build_or_die(o);
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ClientOptions co;
    co.min_version = co.max_version = v;
    std::unique_ptr<Session> c, s;
    ASSERT_TRUE(connect(co, ctx, &c, &s)) << s->error();
    EXPECT_EQ(s->cipher(),
              v == TLS1_3_VERSION ? "TLS_AES_256_GCM_SHA384" : "ECDHE-ECDSA-AES256-GCM-SHA384");
  }
}

// --- check_certificate -------------------------------------------------------------

TEST(Check, GoodChain) {
  const auto& p = pki();
  for (auto [c, k] :
       {std::pair{p.rsa_cert, p.rsa_key}, {p.ec_cert, p.ec_key}, {p.wild_cert, p.wild_key}}) {
    auto r = check_certificate(c, k);
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0]);
    EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  }
}

TEST(Check, MismatchedKey) {
  const auto& p = pki();
  auto r = check_certificate(p.ec_cert, p.rsa_key);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "key " + p.rsa_key + " does not match certificate " + p.ec_cert);
}

TEST(Check, MissingFile) {
  auto r = check_certificate("/x.pem", "/k.pem");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], "cert /x.pem: no such file");
  EXPECT_EQ(r.errors[1], "key /k.pem: no such file");
}

TEST(Check, ChainOrder) {
  const auto& p = pki();
  auto r = check_certificate(p.wrong_order_cert, p.rsa_key);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0],
                       "certificate 1 (CN=rsa.example.com) is not issued by certificate 2 "
                       "(CN=Sluice Test Root)"))
      << r.errors[0];

  r = check_certificate(p.wrong_issuer_cert, p.rsa_key);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0], "is not issued by certificate 2 (CN=Unrelated CA)"))
      << r.errors[0];
}

TEST(Check, Expiry) {
  const auto& p = pki();
  auto r = check_certificate(p.expired_cert, p.expired_key);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0], "cert " + p.expired_cert + ": certificate expired on "))
      << r.errors[0];

  r = check_certificate(p.near_cert, p.near_key);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "cert " + p.near_cert + ": certificate expires in 4 days"))
      << r.warnings[0];

  // The clock is injected: 20 days from now the 30-day certificates are close to expiry too.
  r = check_certificate(p.rsa_cert, p.rsa_key, std::time(nullptr) + 20 * 86400 + 3600);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "expires in 9 days")) << r.warnings[0];
  // ... and a year before issue, not yet valid.
  r = check_certificate(p.rsa_cert, p.rsa_key, std::time(nullptr) - 365 * 86400);
  ASSERT_EQ(r.errors.size(), 2u);  // the leaf and the intermediate
  EXPECT_TRUE(contains(r.errors[0], ": certificate is not valid before ")) << r.errors[0];
  EXPECT_TRUE(contains(r.errors[1],
                       ": chain certificate 2 (CN=Sluice Test Intermediate) is not valid before "))
      << r.errors[1];
}

TEST(Check, NoSubjectAltNameWarns) {
  const auto& p = pki();
  auto r = check_certificate(p.nosan_cert, p.nosan_key);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "no DNS subjectAltName")) << r.warnings[0];
  // ... and SNI falls back to its CN.
  auto ctx = testing::build_or_die(options({{p.rsa_cert, p.rsa_key}, {p.nosan_cert, p.nosan_key}}));
  EXPECT_EQ(ctx->selected_entry("nosan.test", "ECDSA"), 1);
}

}  // namespace
}  // namespace sluice::tls
