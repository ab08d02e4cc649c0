#include "tls/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::tls {

namespace {

constexpr long kMaxPemBytes = 1 << 20;  // a chain of a few certificates is ~10 KiB

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  return s;
}

// Reads a whole (small) file. On failure returns false and a short reason.
bool read_small_file(const std::string& path, std::string* out, std::string* reason) {
  errno = 0;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    switch (errno) {
      case ENOENT:
        *reason = "no such file";
        break;
      case EACCES:
        *reason = "permission denied";
        break;
      case EISDIR:
        *reason = "is a directory";
        break;
      default:
        *reason = std::strerror(errno);
    }
    return false;
  }
  out->clear();
  char buf[8192];
  size_t n;
  bool ok = true;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out->append(buf, n);
    if (out->size() > static_cast<size_t>(kMaxPemBytes)) {
      *reason = "file too large for a PEM certificate or key";
      ok = false;
      break;
    }
  }
  if (ok && std::ferror(f)) {
    *reason = errno == EISDIR ? "is a directory" : "read error";
    ok = false;
  }
  std::fclose(f);
  return ok;
}

// Never prompt on a terminal for a passphrase: encrypted keys simply fail.
int no_password(char*, int, int, void*) {
  return -1;
}

std::string first_openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  return r ? r : "unknown error";
}

std::string describe(X509* x) {
  std::string out;
  BIO* b = BIO_new(BIO_s_mem());
  if (!b) return out;
  X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  if (n > 0) out.assign(p, static_cast<size_t>(n));
  BIO_free(b);
  return out.empty() ? "(empty subject)" : out;
}

std::string iso_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable date)";
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::vector<std::string> dns_names(X509* x) {
  std::vector<std::string> names;
  auto* gens =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (gens) {
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, i);
      if (g->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = g->d.dNSName;
      if (!s || s->length <= 0) continue;
      std::string name(reinterpret_cast<const char*>(s->data), static_cast<size_t>(s->length));
      if (name.find('\0') != std::string::npos) continue;  // embedded NUL: never match it
      names.push_back(lower(std::move(name)));
    }
    GENERAL_NAMES_free(gens);
  }
  return names;
}

std::string common_name(X509* x) {
  X509_NAME* subj = X509_get_subject_name(x);
  int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n <= 0) return {};
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  if (cn.find('\0') != std::string::npos) return {};
  return lower(std::move(cn));
}

const char* key_type_name(int type) {
  switch (type) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS";
    case EVP_PKEY_EC:
      return "ECDSA";
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_DSA:
      return "DSA";
    default:
      return "unknown";
  }
}

// Parses every certificate in a PEM file. Reports into *errors; returns false on failure.
bool parse_chain(const std::string& path, std::vector<X509*>* certs,
                 std::vector<std::string>* errors) {
  std::string pem, reason;
  if (!read_small_file(path, &pem, &reason)) {
    errors->push_back("cert " + path + ": " + reason);
    return false;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) {
    errors->push_back("cert " + path + ": out of memory");
    return false;
  }
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio, nullptr, no_password, nullptr)) certs->push_back(x);
  // The loop ends with "no start line" at EOF; anything else is a broken block.
  unsigned long e = ERR_peek_last_error();
  bool broken =
      e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
  std::string why = broken ? first_openssl_reason() : "";
  ERR_clear_error();
  BIO_free(bio);
  if (broken) {
    errors->push_back("cert " + path + ": malformed PEM certificate (" + why + ")");
  } else if (certs->empty()) {
    errors->push_back("cert " + path + ": no PEM certificate found");
  } else {
    return true;
  }
  for (X509* x : *certs) X509_free(x);
  certs->clear();
  return false;
}

EVP_PKEY* parse_key(const std::string& path, std::vector<std::string>* errors) {
  std::string pem, reason;
  if (!read_small_file(path, &pem, &reason)) {
    errors->push_back("key " + path + ": " + reason);
    return nullptr;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) {
    errors->push_back("key " + path + ": out of memory");
    return nullptr;
  }
  ERR_clear_error();
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, no_password, nullptr);
  BIO_free(bio);
  if (!key) {
    std::string msg = "key " + path + ": no usable PEM private key";
    if (pem.find("ENCRYPTED") != std::string::npos)
      msg += " (encrypted keys are not supported)";
    else if (pem.find("-----BEGIN") == std::string::npos)
      msg += " (not a PEM file)";
    else
      msg += " (" + first_openssl_reason() + ")";
    errors->push_back(msg);
  }
  ERR_clear_error();
  return key;
}

}  // namespace

LoadedCertificate::LoadedCertificate() = default;

LoadedCertificate::~LoadedCertificate() {
  X509_free(leaf);
  for (X509* x : chain) X509_free(x);
  EVP_PKEY_free(key);
}

std::unique_ptr<LoadedCertificate> load_certificate(const CertificateFiles& files,
                                                    std::vector<std::string>* errors) {
  std::vector<X509*> certs;
  bool cert_ok = parse_chain(files.cert_path, &certs, errors);
  EVP_PKEY* key = parse_key(files.key_path, errors);
  if (!cert_ok || !key) {
    for (X509* x : certs) X509_free(x);
    EVP_PKEY_free(key);
    return nullptr;
  }
  auto lc = std::make_unique<LoadedCertificate>();
  lc->files = files;
  lc->leaf = certs.front();
  lc->chain.assign(certs.begin() + 1, certs.end());
  lc->key = key;
  lc->key_type = EVP_PKEY_get_base_id(key);
  lc->key_type_name = key_type_name(lc->key_type);
  if (X509_check_private_key(lc->leaf, key) != 1) {
    ERR_clear_error();
    errors->push_back("key " + files.key_path + " does not match certificate " + files.cert_path);
    return nullptr;
  }
  lc->names = dns_names(lc->leaf);
  if (lc->names.empty()) {
    std::string cn = common_name(lc->leaf);
    if (!cn.empty()) lc->names.push_back(std::move(cn));
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(lc->leaf), &tm) == 1) lc->not_after = timegm(&tm);
  ERR_clear_error();
  return lc;
}

CertificateCheck check_certificate(const std::string& cert_path, const std::string& key_path,
                                   std::time_t now, int warn_days) {
  CertificateCheck out;
  auto lc = load_certificate({cert_path, key_path}, &out.errors);
  if (!lc) return out;

  std::vector<X509*> all{lc->leaf};
  all.insert(all.end(), lc->chain.begin(), lc->chain.end());

  // Chain order: certificate i must be issued (names, key identifiers) and signed by i+1.
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    bool issued = X509_check_issued(all[i + 1], all[i]) == X509_V_OK;
    bool signed_by = issued && X509_verify(all[i], X509_get0_pubkey(all[i + 1])) == 1;
    ERR_clear_error();
    if (!issued || !signed_by) {
      out.errors.push_back("cert " + cert_path + ": certificate " + std::to_string(i + 1) + " (" +
                           describe(all[i]) + ") is not " + (issued ? "signed" : "issued") +
                           " by certificate " + std::to_string(i + 2) + " (" +
                           describe(all[i + 1]) +
                           "); the file must hold the leaf first, then each issuer in order");
      break;
    }
  }

  // Validity of every certificate in the file, the leaf first.
  for (size_t i = 0; i < all.size(); ++i) {
    X509* x = all[i];
    std::string who = i == 0
                          ? "certificate"
                          : "chain certificate " + std::to_string(i + 1) + " (" + describe(x) + ")";
    std::time_t t = now;
    const ASN1_TIME* not_after = X509_get0_notAfter(x);
    const ASN1_TIME* not_before = X509_get0_notBefore(x);
    if (X509_cmp_time(not_after, &t) < 0) {
      out.errors.push_back("cert " + cert_path + ": " + who + " expired on " + iso_time(not_after));
      continue;
    }
    if (X509_cmp_time(not_before, &t) > 0) {
      out.errors.push_back("cert " + cert_path + ": " + who + " is not valid before " +
                           iso_time(not_before));
      continue;
    }
    ASN1_TIME* now_asn1 = ASN1_TIME_set(nullptr, now);
    int days = 0, secs = 0;
    bool diff_ok = now_asn1 && ASN1_TIME_diff(&days, &secs, now_asn1, not_after) == 1;
    ASN1_TIME_free(now_asn1);
    if (diff_ok && (days < warn_days || (days == warn_days && secs == 0))) {
      out.warnings.push_back("cert " + cert_path + ": " + who + " expires in " +
                             std::to_string(days) + (days == 1 ? " day" : " days") + " (" +
                             iso_time(not_after) + ")");
    }
  }

  if (dns_names(lc->leaf).empty()) {
    out.warnings.push_back("cert " + cert_path +
                           ": certificate has no DNS subjectAltName; clients that ignore the "
                           "common name will reject it");
  }
  ERR_clear_error();
  return out;
}

bool name_matches(const std::string& pattern, const std::string& host) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    size_t dot = host.find('.');
    if (dot == std::string::npos || dot == 0) return false;
    return host.compare(dot + 1, std::string::npos, pattern, 2, std::string::npos) == 0;
  }
  return pattern == host;
}

}  // namespace sluice::tls
