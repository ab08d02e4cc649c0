// TlsClient: the client side of TLS for one load-generator worker.
//
// It owns the worker's SSL_CTX (ALPN http/1.1, TLS 1.2+, optional certificate
// verification) and the session kept for resumption: every new session the
// server hands out (TLS 1.3 tickets arrive after the handshake, TLS 1.2 ones
// during it) replaces the kept one, and each new connection offers the kept
// one when resumption is on. Connections are tls::Session objects (memory
// BIOs; the socket stays with the caller), the same code the proxy uses.
//
// Thread affinity: one TlsClient per worker thread; the SSL_CTX is not shared
// between threads, so the kept session needs no lock.
#pragma once

#include <memory>
#include <string>

#include "tls/session.h"

struct ssl_ctx_st;
struct ssl_session_st;

namespace sluice::bench {

struct Options;

class TlsClient {
 public:
  // Null with *error set when the context cannot be built (bad --cacert).
  static std::unique_ptr<TlsClient> create(const Options& options, std::string* error);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // A client Session in connect state for one new connection; null with *error set.
  std::unique_ptr<tls::Session> new_session(std::string* error);

 private:
  TlsClient() = default;
  static int on_new_session(struct ssl_st* ssl, ssl_session_st* session);

  ssl_ctx_st* ctx_ = nullptr;
  ssl_session_st* kept_ = nullptr;  // owned reference; null until the first handshake
  std::string server_name_;         // SNI; empty for an IP literal without --sni
  std::string verify_name_;         // host name or IP the certificate must match
  bool resume_ = true;
  bool verify_ = false;
};

}  // namespace sluice::bench
