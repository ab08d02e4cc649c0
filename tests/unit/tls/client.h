// Test-only TLS client and an in-memory "wire" between two Sessions.
//
// The client is a plain OpenSSL client SSL wrapped in a tls::Session (through
// Session::adopt), so both ends of every test handshake run through the same
// memory-BIO code the proxy uses, and no socket is ever opened.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tls/session.h"

namespace sluice::tls::testing {

struct ClientOptions {
  int min_version = TLS1_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string sni;                 // empty: no SNI
  std::string alpn;                // comma list, e.g. "h2,http/1.1"; empty: no ALPN
  std::string sigalgs;             // e.g. "ECDSA+SHA256"; empty: OpenSSL default
  std::string ciphers;             // TLS 1.2 list; empty: OpenSSL default
  bool legacy = false;             // @SECLEVEL=0 so TLS 1.0/1.1 can be offered
  bool no_ticket = false;          // TLS 1.2: ask for session-id resumption only
  SSL_SESSION* session = nullptr;  // resume this session (not consumed)
};

// A client Session (connect state), or null with *error set.
std::unique_ptr<Session> make_client(const ClientOptions& o, std::string* error = nullptr);

// Outcome of the last read() on each side, plus the plaintext each received.
struct Wire {
  Status client_status = Status::WantInput;
  Status server_status = Status::WantInput;
  std::string client_received;
  std::string server_received;
  size_t rounds = 0;
};

// A man in the middle for fuzzing: the byte at offset `at` of everything the
// client sends is XORed with `mask` on its way to the server.
struct Tamper {
  size_t at = SIZE_MAX;
  uint8_t mask = 0;
  size_t passed = 0;  // client bytes delivered so far
};

// Shuttles ciphertext both ways and drains plaintext until nothing moves.
// `chunk` caps each feed() (small feeds exercise partial records).
void pump(Session& client, Session& server, Wire* wire, size_t chunk = SIZE_MAX,
          Tamper* tamper = nullptr);

// A full handshake between a fresh client and a fresh server Session; true when
// both completed. Returns the sessions through the out parameters.
bool connect(const ClientOptions& o, const std::shared_ptr<const ServerContext>& ctx,
             std::unique_ptr<Session>* client, std::unique_ptr<Session>* server,
             Wire* wire = nullptr);

// Subject CN and key type ("RSA", "ECDSA") of the certificate the server sent.
std::string peer_cn(const Session& client);
std::string peer_key_type(const Session& client);

}  // namespace sluice::tls::testing
