#include "tests/unit/tls/client.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <vector>

namespace sluice::tls::testing {

std::unique_ptr<Session> make_client(const ClientOptions& o, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, o.min_version);
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  std::string ciphers = o.ciphers.empty() ? "DEFAULT" : o.ciphers;
  if (o.legacy) ciphers += ":@SECLEVEL=0";
  SSL_CTX_set_cipher_list(ctx, ciphers.c_str());
  if (o.legacy) SSL_CTX_set_security_level(ctx, 0);
  if (!o.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(ctx, o.sigalgs.c_str());
  if (o.no_ticket) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  // No client-side cache: freeing this per-client SSL_CTX would flush it and mark
  // the sessions the tests keep as not resumable.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // tests check the chosen cert by hand
  SSL* ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);  // the SSL holds its own reference
  if (!ssl) return nullptr;
  SSL_set_connect_state(ssl);
  if (!o.sni.empty()) SSL_set_tlsext_host_name(ssl, o.sni.c_str());
  if (!o.alpn.empty()) {
    std::vector<unsigned char> wire;
    size_t start = 0;
    while (start <= o.alpn.size()) {
      size_t comma = o.alpn.find(',', start);
      if (comma == std::string::npos) comma = o.alpn.size();
      wire.push_back(static_cast<unsigned char>(comma - start));
      wire.insert(wire.end(), o.alpn.begin() + static_cast<long>(start),
                  o.alpn.begin() + static_cast<long>(comma));
      start = comma + 1;
    }
    SSL_set_alpn_protos(ssl, wire.data(), static_cast<unsigned>(wire.size()));
  }
  if (o.session) SSL_set_session(ssl, o.session);
  ERR_clear_error();
  return Session::adopt(ssl, error);
}

namespace {

size_t drain(Session& s, std::string* sink, Status* status) {
  size_t got = 0;
  char buf[4096];
  for (;;) {
    IoResult r = s.read(buf, sizeof buf);
    *status = r.status;
    if (r.status != Status::Ok) return got;
    sink->append(buf, r.bytes);
    got += r.bytes;
  }
}

}  // namespace

void pump(Session& client, Session& server, Wire* w, size_t chunk, Tamper* tamper) {
  for (int idle = 0; idle < 2 && w->rounds < 100000;) {
    ++w->rounds;
    size_t progress = 0;
    // Feed in small pieces and read after each one, so records arrive split.
    while (client.pending_output() > 0) {
      std::vector<char> buf(std::min(chunk, client.pending_output()));
      size_t n = client.read_output(buf.data(), buf.size());
      if (tamper != nullptr) {
        if (tamper->at >= tamper->passed && tamper->at - tamper->passed < n) {
          buf[tamper->at - tamper->passed] =
              static_cast<char>(buf[tamper->at - tamper->passed] ^ tamper->mask);
        }
        tamper->passed += n;
      }
      server.feed(buf.data(), n);
      progress += n;
      progress += drain(server, &w->server_received, &w->server_status);
    }
    progress += drain(server, &w->server_received, &w->server_status);
    while (server.pending_output() > 0) {
      std::vector<char> buf(std::min(chunk, server.pending_output()));
      size_t n = server.read_output(buf.data(), buf.size());
      client.feed(buf.data(), n);
      progress += n;
      progress += drain(client, &w->client_received, &w->client_status);
    }
    progress += drain(client, &w->client_received, &w->client_status);
    idle = progress == 0 && client.pending_output() == 0 && server.pending_output() == 0 ? idle + 1
                                                                                         : 0;
  }
}

bool connect(const ClientOptions& o, const std::shared_ptr<const ServerContext>& ctx,
             std::unique_ptr<Session>* client, std::unique_ptr<Session>* server, Wire* wire) {
  *client = make_client(o);
  *server = Session::server(ctx);
  if (!*client || !*server) return false;
  Wire local;
  Wire* w = wire ? wire : &local;
  pump(**client, **server, w);
  return (*client)->handshake_done() && (*server)->handshake_done();
}

std::string peer_cn(const Session& client) {
  X509* x = SSL_get0_peer_certificate(client.native());
  if (!x) return {};
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return buf;
}

std::string peer_key_type(const Session& client) {
  X509* x = SSL_get0_peer_certificate(client.native());
  if (!x) return {};
  switch (EVP_PKEY_get_base_id(X509_get0_pubkey(x))) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_EC:
      return "ECDSA";
    default:
      return "other";
  }
}

}  // namespace sluice::tls::testing
