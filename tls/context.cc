#include "tls/context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

namespace sluice::tls {

const char* const kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
const char* const kDefaultGroups = "X25519:prime256v1:secp384r1";

namespace {

// Same value on every SSL_CTX of every generation: SSL_set_SSL_CTX() (SNI) copies
// it onto the connection, and a session is only resumed under the context id it
// was created with, so a ticket from a previous reload stays usable.
constexpr unsigned char kSessionIdContext[] = "sluice";

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  std::string s = r ? r : "rejected";
  ERR_clear_error();
  return s;
}

std::string lower_host(const char* name) {
  std::string s(name);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  if (!s.empty() && s.back() == '.') s.pop_back();  // "example.com." is "example.com"
  return s;
}

}  // namespace

// One SSL_CTX: the certificates served for one set of names, at most one per key type.
struct Selection {
  SSL_CTX* ctx = nullptr;
  std::vector<size_t> entries;  // indices into Impl::certs
};

struct ServerContext::Impl {
  std::vector<std::unique_ptr<LoadedCertificate>> certs;
  std::vector<Selection> selections;              // [0] is the default
  std::unordered_map<std::string, size_t> exact;  // "a.example.com" -> selection
  std::unordered_map<std::string, size_t>
      wildcard;  // "example.com" (from "*.example.com") -> selection
  std::shared_ptr<TicketKeys> keys;
  std::shared_ptr<HandshakeCounters> counters;
  // Fetched once: an implicit fetch per ticket would take the provider store's
  // lock on every handshake of every worker.
  EVP_CIPHER* ticket_cipher = nullptr;

  ~Impl() {
    for (Selection& s : selections) SSL_CTX_free(s.ctx);
    EVP_CIPHER_free(ticket_cipher);
  }

  size_t lookup(const std::string& host) const {
    if (auto it = exact.find(host); it != exact.end()) return it->second;
    size_t dot = host.find('.');
    if (dot != std::string::npos && dot > 0) {
      if (auto it = wildcard.find(host.substr(dot + 1)); it != wildcard.end()) return it->second;
    }
    return 0;
  }
};

namespace {

using Impl = ServerContext::Impl;

Impl* impl_of(SSL* ssl) {
  return static_cast<Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

// SNI: runs on the worker doing the handshake; reads only immutable data.
int on_servername(SSL* ssl, int* alert, void* arg) {
  auto* impl = static_cast<Impl*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name || !*name) return SSL_TLSEXT_ERR_NOACK;  // no SNI: default certificate
  SSL_CTX* want = impl->selections[impl->lookup(lower_host(name))].ctx;
  if (SSL_get_SSL_CTX(ssl) != want && SSL_set_SSL_CTX(ssl, want) == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Cipher order: TLS 1.3 suites are all strong, so the client's order wins
// there (it knows whether it has AES hardware). A client that cannot do 1.3
// gets the server's order among the 1.2 suites, strongest first, which is
// what audits (testssl "cipher_order") expect of a 1.2 handshake.
int on_client_hello(SSL* ssl, int*, void*) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  bool offers_13 = false;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &ext, &len) == 1 && len >= 1) {
    size_t list = std::min<size_t>(ext[0], len - 1);
    for (size_t i = 1; i + 1 <= list; i += 2) {
      if (ext[i] == 0x03 && ext[i + 1] == 0x04) offers_13 = true;
    }
  }
  if (!offers_13) SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
  return SSL_CLIENT_HELLO_SUCCESS;
}

// ALPN: HTTP/1.x only. "http/1.1" when offered, else "http/1.0" (sluice speaks
// both, nginx accepts both); the client's list is length-prefixed names.
bool find_protocol(const unsigned char* in, unsigned int inlen, std::string_view proto,
                   const unsigned char** out, unsigned char* outlen) {
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int len = in[i];
    if (len == 0 || i + 1 + len > inlen) return false;  // malformed list
    if (len == proto.size() && std::memcmp(in + i + 1, proto.data(), len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return true;
    }
    i += 1 + len;
  }
  return false;
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) {
  if (find_protocol(in, inlen, "http/1.1", out, outlen) ||
      find_protocol(in, inlen, "http/1.0", out, outlen)) {
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301 no_application_protocol, as nginx does
}

bool set_ticket_mac(EVP_MAC_CTX* hctx, const TicketKeys::Key& k) {
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                const_cast<unsigned char*>(k.hmac), sizeof k.hmac);
  params[1] =
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// Session tickets (RFC 5077 layout, as OpenSSL frames them): encrypt under the
// current key; decrypt under the current or the previous one. Return values
// follow SSL_CTX_set_tlsext_ticket_key_evp_cb(3): -1 error, 0 unknown key (full
// handshake), 1 ok, 2 ok but issue a fresh ticket (old key).
int on_ticket(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
              EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  static_assert(TicketKeys::kNameLen == 16);
  Impl* impl = impl_of(ssl);
  if (!impl) return -1;
  std::shared_ptr<const TicketKeys::KeySet> set = impl->keys->snapshot();
  const EVP_CIPHER* cipher = impl->ticket_cipher;
  if (enc) {
    const TicketKeys::Key& k = set->current;
    std::memcpy(key_name, k.name, TicketKeys::kNameLen);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1) return -1;
    if (EVP_EncryptInit_ex(cctx, cipher, nullptr, k.aes, iv) != 1) return -1;
    return set_ticket_mac(hctx, k) ? 1 : -1;
  }
  bool is_current = false;
  const TicketKeys::Key* k = set->find(key_name, &is_current);
  if (!k) return 0;
  if (!set_ticket_mac(hctx, *k)) return -1;
  if (EVP_DecryptInit_ex(cctx, cipher, nullptr, k->aes, iv) != 1) return -1;
  return is_current ? 1 : 2;
}

// Applies the shared policy to one SSL_CTX. Errors name the offending option.
bool configure(SSL_CTX* ctx, const ServerOptions& o, Impl* impl, std::vector<std::string>* errors) {
  int min = o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    errors->push_back("tls: cannot set protocol versions: " + openssl_reason());
    return false;
  }
  // No renegotiation at all (a CPU DoS vector and a source of HTTP/1 confusion),
  // no compression (CRIME); cipher order: see on_client_hello.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  // Drop the 16 KiB+ record buffers whenever a connection is idle.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  const std::string ciphers = o.ciphers.empty() ? kIntermediateCiphers : o.ciphers;
  bool ok = true;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    errors->push_back("tls.ciphers \"" + ciphers + "\": no usable cipher (" + openssl_reason() +
                      ")");
    ok = false;
  }
  if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, o.ciphersuites.c_str()) != 1) {
    errors->push_back("tls.ciphersuites \"" + o.ciphersuites +
                      "\": invalid TLS 1.3 cipher suite list (" + openssl_reason() + ")");
    ok = false;
  }
  const std::string groups = o.groups.empty() ? kDefaultGroups : o.groups;
  if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
    errors->push_back("tls groups \"" + groups + "\": invalid group list (" + openssl_reason() +
                      ")");
    ok = false;
  }
  // DHE-RSA suites: the RFC 7919 ffdhe2048 group (dh_auto would pick the
  // older RFC 3526 group 14 for a 2048-bit key).
  {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
    EVP_PKEY* dh = nullptr;
    char group[] = "ffdhe2048";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                           OSSL_PARAM_construct_end()};
    if (pctx != nullptr && EVP_PKEY_paramgen_init(pctx) > 0 &&
        EVP_PKEY_CTX_set_params(pctx, params) > 0 && EVP_PKEY_paramgen(pctx, &dh) > 0 &&
        SSL_CTX_set0_tmp_dh_pkey(ctx, dh) == 1) {
      dh = nullptr;  // owned by ctx now
    } else {
      SSL_CTX_set_dh_auto(ctx, 1);
    }
    EVP_PKEY_free(dh);
    EVP_PKEY_CTX_free(pctx);
  }

  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, o.session_cache_size);
  SSL_CTX_set_timeout(ctx, o.session_timeout_s);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);

  SSL_CTX_set_client_hello_cb(ctx, on_client_hello, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(ctx, impl);
  SSL_CTX_set_app_data(ctx, impl);
  return ok;
}

bool add_certificate(SSL_CTX* ctx, const LoadedCertificate& c, std::vector<std::string>* errors) {
  STACK_OF(X509)* chain = sk_X509_new_null();
  if (!chain) {
    errors->push_back("cert " + c.files.cert_path + ": out of memory");
    return false;
  }
  for (X509* x : c.chain) sk_X509_push(chain, x);
  // Fills the slot of the key's type; the chain is copied (and up-ref'd) by OpenSSL.
  int r = SSL_CTX_use_cert_and_key(ctx, c.leaf, c.key, chain, 1);
  sk_X509_free(chain);
  if (r != 1) {
    errors->push_back("cert " + c.files.cert_path + ": cannot be used (" + openssl_reason() + ")");
    return false;
  }
  return true;
}

}  // namespace

std::string ServerContext::BuildResult::error() const {
  std::string out;
  for (const std::string& e : errors) {
    if (!out.empty()) out += "; ";
    out += e;
  }
  return out;
}

ServerContext::ServerContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServerContext::~ServerContext() = default;

HandshakeCounters& ServerContext::counters() const {
  return *impl_->counters;
}
size_t ServerContext::certificate_count() const {
  return impl_->certs.size();
}
const LoadedCertificate& ServerContext::certificate(size_t i) const {
  return *impl_->certs[i];
}
TicketKeys& ServerContext::ticket_keys() const {
  return *impl_->keys;
}
ssl_ctx_st* ServerContext::native_default() const {
  return impl_->selections.front().ctx;
}

int ServerContext::selected_entry(const std::string& server_name,
                                  const std::string& key_type_name) const {
  const Selection& s = impl_->selections[impl_->lookup(lower_host(server_name.c_str()))];
  for (size_t e : s.entries) {
    if (impl_->certs[e]->key_type_name == key_type_name) return static_cast<int>(e);
  }
  return -1;
}

ServerContext::BuildResult ServerContext::build(const ServerOptions& o) {
  BuildResult out;
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();

  if (o.min_version != "1.2" && o.min_version != "1.3") {
    out.errors.push_back("tls.min_version \"" + o.min_version + "\": must be \"1.2\" or \"1.3\"");
  }
  if (o.certificates.empty()) out.errors.push_back("tls: at least one certificate is required");
  for (const CertificateFiles& f : o.certificates) {
    auto c = load_certificate(f, &out.errors);
    if (c) impl->certs.push_back(std::move(c));
  }
  if (!out.errors.empty()) return out;

  impl->keys = o.ticket_keys;
  if (!impl->keys) {
    std::string err;
    impl->keys = TicketKeys::create(&err);
    if (!impl->keys) {
      out.errors.push_back(err);
      return out;
    }
  }
  impl->counters = o.counters ? o.counters : std::make_shared<HandshakeCounters>();
  impl->ticket_cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  if (!impl->ticket_cipher) {
    out.errors.push_back("tls: AES-256-CBC unavailable for session tickets: " + openssl_reason());
    return out;
  }

  // For each name (first appearance order), the entries serving it: the first
  // entry per key type among those listing that exact name. Identical member
  // lists share one SSL_CTX.
  const auto& certs = impl->certs;
  auto members_for = [&](const std::string& name) {
    std::vector<size_t> members;
    std::vector<int> types;
    for (size_t i = 0; i < certs.size(); ++i) {
      const auto& ns = certs[i]->names;
      if (std::find(ns.begin(), ns.end(), name) == ns.end()) continue;
      if (std::find(types.begin(), types.end(), certs[i]->key_type) != types.end()) continue;
      types.push_back(certs[i]->key_type);
      members.push_back(i);
    }
    return members;
  };
  std::map<std::vector<size_t>, size_t> by_members;
  auto selection_for = [&](std::vector<size_t> members) {
    std::sort(members.begin(), members.end());
    auto [it, inserted] = by_members.emplace(members, impl->selections.size());
    if (inserted) impl->selections.push_back(Selection{nullptr, members});
    return it->second;
  };
  // The default first, so it is selections[0].
  selection_for(certs[0]->names.empty() ? std::vector<size_t>{0} : members_for(certs[0]->names[0]));
  for (const auto& c : certs) {
    for (const std::string& name : c->names) {
      bool wild = name.size() > 2 && name[0] == '*' && name[1] == '.';
      auto& table = wild ? impl->wildcard : impl->exact;
      std::string key = wild ? name.substr(2) : name;
      if (table.count(key)) continue;
      table.emplace(std::move(key), selection_for(members_for(name)));
    }
  }

  std::vector<bool> used(certs.size(), false);
  for (Selection& s : impl->selections) {
    s.ctx = SSL_CTX_new(TLS_server_method());
    if (!s.ctx) {
      out.errors.push_back("tls: cannot create SSL_CTX: " + openssl_reason());
      return out;
    }
    if (!configure(s.ctx, o, impl.get(), &out.errors)) return out;
    for (size_t e : s.entries) {
      used[e] = true;
      if (!add_certificate(s.ctx, *certs[e], &out.errors)) return out;
    }
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    if (!used[i]) {
      out.warnings.push_back("cert " + certs[i]->files.cert_path + ": never served: earlier " +
                             certs[i]->key_type_name + " certificates cover all of its names");
    }
  }
  ERR_clear_error();
  out.context = std::shared_ptr<const ServerContext>(new ServerContext(std::move(impl)));
  return out;
}

}  // namespace sluice::tls
