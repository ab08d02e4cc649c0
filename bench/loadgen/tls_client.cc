#include "bench/loadgen/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench/loadgen/options.h"

namespace sluice::bench {

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string openssl_error(const char* what) {
  std::string s = what;
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += ": ";
    s += buf;
  }
  ERR_clear_error();
  return s;
}

}  // namespace

std::unique_ptr<TlsClient> TlsClient::create(const Options& o, std::string* error) {
  std::unique_ptr<TlsClient> c(new TlsClient());
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) {
    *error = openssl_error("tls: cannot create a client context");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(c->ctx_, kAlpn, sizeof kAlpn);
  SSL_CTX_set_app_data(c->ctx_, c.get());

  c->resume_ = o.tls_resume;
  if (c->resume_) {
    // Sessions are kept by on_new_session, not in OpenSSL's client cache
    // (which is keyed by nothing useful on the client side).
    SSL_CTX_set_session_cache_mode(c->ctx_,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c->ctx_, &TlsClient::on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(c->ctx_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(c->ctx_, SSL_OP_NO_TICKET);
  }

  c->verify_ = o.verify;
  if (c->verify_) {
    int ok = o.cacert.empty() ? SSL_CTX_set_default_verify_paths(c->ctx_)
                              : SSL_CTX_load_verify_locations(c->ctx_, o.cacert.c_str(), nullptr);
    if (ok != 1) {
      *error = openssl_error(o.cacert.empty() ? "tls: cannot load the system CA store"
                                              : ("tls: cannot load --cacert " + o.cacert).c_str());
      return nullptr;
    }
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  }
  c->verify_name_ = o.sni.empty() ? o.target.host : o.sni;
  c->server_name_ = !o.sni.empty() ? o.sni : (is_ip_literal(o.target.host) ? "" : o.target.host);
  return c;
}

TlsClient::~TlsClient() {
  if (kept_) SSL_SESSION_free(kept_);
  if (ctx_) SSL_CTX_free(ctx_);
}

int TlsClient::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* c = static_cast<TlsClient*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (c->kept_) SSL_SESSION_free(c->kept_);
  c->kept_ = session;
  return 1;  // we keep the reference
}

std::unique_ptr<tls::Session> TlsClient::new_session(std::string* error) {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) {
    *error = openssl_error("tls: cannot allocate a connection");
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  if (!server_name_.empty()) SSL_set_tlsext_host_name(ssl, server_name_.c_str());
  if (verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip_literal(verify_name_))
      X509_VERIFY_PARAM_set1_ip_asc(param, verify_name_.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, verify_name_.c_str(), 0);
  }
  if (resume_ && kept_) {
    // OpenSSL spends a TLS 1.3 session once it resumed a connection (tickets are
    // meant for one use), and a server that sends no fresh ticket on resumption
    // (Node's does not) would then see every other connection resume. Offer a
    // copy so the kept session serves later connections too; servers with
    // stateless tickets, sluice's included, accept a ticket more than once.
    if (SSL_SESSION* copy = SSL_SESSION_dup(kept_)) {
      SSL_set_session(ssl, copy);  // takes its own reference
      SSL_SESSION_free(copy);
    }
  }
  return tls::Session::adopt(ssl, error);  // frees ssl on failure
}

}  // namespace sluice::bench
