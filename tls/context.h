// ServerContext: the TLS policy of one configuration generation, shared
// read-only by every worker thread.
//
// Built once per config load from plain parameters (ServerOptions); it knows
// nothing of the config structs, routing or sockets. Internally it is one
// SSL_CTX per distinct certificate selection (see "Certificates and SNI"), all
// configured identically:
//   - TLS 1.2 and 1.3 only (min_version "1.3" for 1.3 only), no compression,
//     no renegotiation, the client's cipher preference (Mozilla intermediate).
//   - ALPN: "http/1.1" is selected when offered ("http/1.0" when only that is);
//     a client that sends no ALPN is accepted; a client offering only other
//     protocols (e.g. just "h2") gets the RFC 7301 no_application_protocol
//     alert, as nginx does.
//   - Resumption: a server-side session cache (TLS 1.2 session ids) plus
//     session tickets encrypted with a shared TicketKeys (see ticket_keys.h).
//
// Certificates and SNI: each entry's names are its DNS SANs (exact, or "*."
// wildcards covering one label). For a server name, the exact names are tried
// first, then the wildcards; an unknown or absent name gets the default, which
// is the first entry. Every entry that covers the chosen name goes into the same
// SSL_CTX, one per key type (the first entry in config order wins per type), so
// an RSA and an ECDSA certificate for the same names are both offered and
// OpenSSL picks by the client's signature algorithms and ciphers.
//
// Threads and lifetime: a ServerContext is immutable once built and may be used
// from any number of threads at once (SSL_new on a shared SSL_CTX is
// thread-safe). Reload = build a new one and swap the std::shared_ptr; each
// Session keeps its context alive, so old connections finish on the old one.
// The TicketKeys and HandshakeCounters are meant to outlive reloads: create
// them once and pass the same objects to every build.
//
// Errors: build() never throws and never aborts; it returns every problem as an
// operator-facing string naming the file or option.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tls/certificate.h"
#include "tls/ticket_keys.h"

struct ssl_ctx_st;

namespace sluice::tls {

// Mozilla "intermediate" TLS 1.2 cipher list (ssl-config.mozilla.org, v5.7).
extern const char* const kIntermediateCiphers;
extern const char* const kDefaultGroups;  // "X25519:prime256v1:secp384r1"

// Process-wide handshake counters (for metrics). Shared by all workers and
// across reloads; relaxed atomics, read them with load().
struct HandshakeCounters {
  std::atomic<uint64_t> full{0};     // completed without resumption
  std::atomic<uint64_t> resumed{0};  // completed by ticket or session id
  std::atomic<uint64_t> failed{0};   // aborted by an error or the peer before completion
};

struct ServerOptions {
  std::string min_version = "1.2";              // "1.2" | "1.3"
  std::string ciphers;                          // TLS 1.2 cipher list; empty = kIntermediateCiphers
  std::string ciphersuites;                     // TLS 1.3 suites; empty = OpenSSL's default
  std::string groups;                           // key exchange groups; empty = kDefaultGroups
  std::vector<CertificateFiles> certificates;   // at least one; the first is the default
  std::shared_ptr<TicketKeys> ticket_keys;      // null: private keys (no sharing)
  std::shared_ptr<HandshakeCounters> counters;  // null: private counters
  uint32_t session_cache_size = 20480;          // TLS 1.2 session-id cache entries
  uint32_t session_timeout_s = 86400;           // session and ticket lifetime
};

class ServerContext {
 public:
  struct BuildResult {
    std::shared_ptr<const ServerContext> context;  // null when errors is not empty
    std::vector<std::string> errors;
    // Accepted but suspicious, e.g. an entry that is never served because earlier
    // entries of the same key type cover all of its names.
    std::vector<std::string> warnings;
    std::string error() const;  // all errors joined with "; "
  };

  static BuildResult build(const ServerOptions& options);

  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  HandshakeCounters& counters() const;
  TicketKeys& ticket_keys() const;

  // The loaded certificate entries, in ServerOptions::certificates order
  // (metrics read their paths and expiry).
  size_t certificate_count() const;
  const LoadedCertificate& certificate(size_t i) const;

  // Which certificate entry (index into ServerOptions::certificates) would be
  // served for `server_name` to a client preferring `key_type_name` ("RSA",
  // "ECDSA"), or -1 when that name's selection has no such key type. Tests and
  // diagnostics only; the handshake path does not use this.
  int selected_entry(const std::string& server_name, const std::string& key_type_name) const;

  // The SSL_CTX new server connections start from (the default certificate).
  // For Session; the proxy has no reason to touch it.
  ssl_ctx_st* native_default() const;

  struct Impl;

 private:
  explicit ServerContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::tls
