#include "tls/session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace sluice::tls {

namespace {

// Largest plaintext handed to one SSL_write_ex: one full record. Writing record
// by record lets write() stop at the output limit instead of encrypting a whole
// response body into memory.
constexpr size_t kRecordPlaintext = 16384;
// A drained buffer is freed at once, so an idle keep-alive connection holds no
// buffer memory beyond OpenSSL's own state (which SSL_MODE_RELEASE_BUFFERS
// trims too). The cost is one malloc/free per read burst, small next to the
// crypto; h2o and nginx make the same trade for idle connections.
void release_if_drained(std::string* s) {
  if (s->empty() && s->capacity() > sizeof(std::string)) std::string().swap(*s);
}

}  // namespace

// The BIO both directions go through: reads pull from Session::in_, writes append
// to Session::out_. One copy each way, no BIO_s_mem in between.
struct SessionBio {
  static BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sluice session");
      if (!bm) return bm;
      BIO_meth_set_write(bm, write);
      BIO_meth_set_read(bm, read);
      BIO_meth_set_ctrl(bm, ctrl);
      BIO_meth_set_create(bm, create);
      BIO_meth_set_destroy(bm, destroy);
      return bm;
    }();
    return m;
  }

  static Session* session(BIO* b) { return static_cast<Session*>(BIO_get_data(b)); }

  static int write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    Session* s = session(b);
    if (!s || len < 0) return -1;
    s->out_.append(data, static_cast<size_t>(len));
    return len;
  }

  static int read(BIO* b, char* data, int len) {
    BIO_clear_retry_flags(b);
    Session* s = session(b);
    if (!s || len < 0) return -1;
    size_t avail = s->in_.size() - s->in_off_;
    if (avail == 0) {
      if (s->eof_) return 0;  // no retry flag: OpenSSL sees end of stream
      BIO_set_retry_read(b);
      return -1;
    }
    size_t n = std::min(avail, static_cast<size_t>(len));
    std::memcpy(data, s->in_.data() + s->in_off_, n);
    s->in_off_ += n;
    if (s->in_off_ == s->in_.size()) {
      s->in_.clear();
      s->in_off_ = 0;
    }
    return static_cast<int>(n);
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    Session* s = session(b);
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return s ? static_cast<long>(s->in_.size() - s->in_off_) : 0;
      case BIO_CTRL_WPENDING:
        return 0;  // everything written is already in out_
      case BIO_CTRL_EOF:
        return s && s->eof_ && s->in_.size() == s->in_off_;
      default:
        return 0;
    }
  }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }
  static int destroy(BIO*) { return 1; }  // the Session owns the buffers
};

const char* to_string(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::WantInput:
      return "want-input";
    case Status::Closed:
      return "closed";
    case Status::Error:
      return "error";
  }
  return "?";
}

std::unique_ptr<Session> Session::server(std::shared_ptr<const ServerContext> context,
                                         std::string* error) {
  if (!context) {
    if (error) *error = "tls: no server context";
    return nullptr;
  }
  ERR_clear_error();
  SSL* ssl = SSL_new(context->native_default());
  if (!ssl) {
    if (error) *error = "tls: cannot allocate a connection";
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  std::unique_ptr<Session> s(new Session());
  s->context_ = std::move(context);
  if (!s->attach(ssl, error)) return nullptr;
  return s;
}

std::unique_ptr<Session> Session::adopt(ssl_st* ssl, std::string* error) {
  if (!ssl) {
    if (error) *error = "tls: no SSL to adopt";
    return nullptr;
  }
  std::unique_ptr<Session> s(new Session());
  if (!s->attach(ssl, error)) return nullptr;
  return s;
}

bool Session::attach(ssl_st* ssl, std::string* error) {
  ssl_ = ssl;  // owned from here on, freed by ~Session even on failure
  BIO_METHOD* m = SessionBio::method();
  BIO* bio = m ? BIO_new(m) : nullptr;
  if (!bio) {
    if (error) *error = "tls: cannot allocate a BIO";
    ERR_clear_error();
    return false;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // same BIO both ways: one reference consumed
  return true;
}

Session::~Session() {
  if (!ssl_) return;
  // A connection that completed its handshake and was not broken keeps its
  // session resumable even when the transport just goes away (idle timeout,
  // client gone without close_notify): OpenSSL would otherwise evict it from the
  // cache. nginx does the same (ngx_ssl_shutdown).
  if (handshake_done_ && !failed_)
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
  ERR_clear_error();
}

void Session::feed(const char* data, size_t n) {
  if (n == 0 || eof_) return;
  in_.append(data, n);
  fed_ = true;
}

void Session::feed_eof() {
  eof_ = true;
}

void Session::after_io() {
  if (handshake_done_ || !SSL_is_init_finished(ssl_)) return;
  handshake_done_ = true;
  if (context_) {
    auto& c = context_->counters();
    (SSL_session_reused(ssl_) ? c.resumed : c.full).fetch_add(1, std::memory_order_relaxed);
  }
}

namespace {
// OpenSSL wants the thread's error queue empty before an I/O call, or
// SSL_get_error() may misreport. Every path here that can leave errors behind
// clears them, so the queue is normally empty already: peeking is a fraction
// of ERR_clear_error()'s cost, which is paid on every record otherwise.
void clear_stale_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}
}  // namespace

bool Session::input_pending() const {
  return in_.size() > in_off_ || SSL_has_pending(ssl_) == 1;
}

IoResult Session::fail(int ssl_error, const char* what) {
  unsigned long e = ERR_peek_last_error();
  bool eof_error =
      ssl_error == SSL_ERROR_SYSCALL || (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
                                         ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
  if (eof_ && eof_error && handshake_done_) {
    // EOF without close_notify after the handshake: common (browsers, HTTP/1.0
    // clients) and harmless for HTTP with framed bodies. Reported as Closed;
    // close_notify_received() tells the two apart.
    ERR_clear_error();
    closed_ = true;
    release_if_drained(&in_);
    return {Status::Closed, 0};
  }
  bool silent = false;
  if (eof_ && eof_error) {
    // A peer that connects and leaves without a byte (TCP health checks, port
    // scanners, a browser's spare preconnect) is not a failed handshake.
    silent = !fed_;
    error_ = silent ? "tls handshake: peer closed the connection before sending anything"
                    : "tls handshake: peer closed the connection";
  } else {
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    error_ = std::string(handshake_done_ ? "tls " : "tls handshake: ") +
             (handshake_done_ ? std::string(what) + ": " : std::string()) +
             (reason                           ? reason
              : ssl_error == SSL_ERROR_SYSCALL ? "transport error"
                                               : "protocol error");
  }
  ERR_clear_error();
  if (!handshake_done_ && !failed_ && !silent && context_) {
    context_->counters().failed.fetch_add(1, std::memory_order_relaxed);
  }
  failed_ = true;
  return {Status::Error, 0};
}

IoResult Session::handshake() {
  if (failed_) return {Status::Error, 0};
  if (handshake_done_) return {Status::Ok, 0};
  clear_stale_errors();
  int r = SSL_do_handshake(ssl_);
  after_io();
  if (r == 1) return {Status::Ok, 0};
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ && !eof_) return {Status::WantInput, 0};
  return fail(err, "handshake");
}

IoResult Session::read(char* out, size_t cap) {
  if (failed_) return {Status::Error, 0};
  if (closed_) return {Status::Closed, 0};
  if (cap == 0) {
    IoResult r = handshake();
    return r.status == Status::Ok ? IoResult{Status::WantInput, 0} : r;
  }
  if (eof_ && handshake_done_ && in_.size() == in_off_ && !SSL_has_pending(ssl_)) {
    // Transport EOF on a record boundary without close_notify: end of stream.
    // Not letting OpenSSL see it avoids its fatal "unexpected eof" path, which
    // would also evict the session from the cache.
    closed_ = true;
    release_if_drained(&in_);
    return {Status::Closed, 0};
  }
  clear_stale_errors();
  size_t n = 0;
  int r = SSL_read_ex(ssl_, out, cap, &n);
  after_io();
  if (r == 1) return {Status::Ok, n};
  int err = SSL_get_error(ssl_, r);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      if (eof_) return fail(SSL_ERROR_SYSCALL, "read");  // defensive: EOF must end the stream
      release_if_drained(&in_);
      return {Status::WantInput, 0};
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      close_notify_received_ = true;
      closed_ = true;
      return {Status::Closed, 0};
    default:
      return fail(err, "read");
  }
}

IoResult Session::write(const char* p, size_t n) {
  if (failed_) return {Status::Error, 0};
  if (closed_ || shutdown_sent_) return {Status::Closed, 0};
  if (!handshake_done_) return {Status::WantInput, 0};
  size_t done = 0;
  while (done < n && pending_output() < output_limit_) {
    size_t chunk = std::min(n - done, kRecordPlaintext);
    size_t w = 0;
    clear_stale_errors();
    int r = SSL_write_ex(ssl_, p + done, chunk, &w);
    if (r != 1) {
      int err = SSL_get_error(ssl_, r);
      if (done > 0) {
        ERR_clear_error();
        break;  // report what went through; the error resurfaces next call
      }
      if (err == SSL_ERROR_WANT_READ) return {Status::WantInput, 0};
      return fail(err, "write");
    }
    done += w;
  }
  return {Status::Ok, done};
}

void Session::shutdown() {
  if (shutdown_sent_ || failed_) return;
  shutdown_sent_ = true;
  if (!handshake_done_) return;  // nothing to protect yet; the caller just closes
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify into out_; 0 or 1 are both fine here
  ERR_clear_error();
}

void Session::take_output(std::string* buf) {
  buf->clear();
  if (out_off_ == 0) {
    buf->swap(out_);  // zero copy: the caller gets OpenSSL's output, we keep its old capacity
  } else {
    buf->assign(out_, out_off_, std::string::npos);
    out_.clear();
    out_off_ = 0;
  }
  release_if_drained(&out_);
}

std::string Session::take_output() {
  std::string s;
  take_output(&s);
  return s;
}

size_t Session::read_output(char* dst, size_t cap) {
  size_t n = std::min(cap, pending_output());
  std::memcpy(dst, out_.data() + out_off_, n);
  out_off_ += n;
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
    release_if_drained(&out_);
  }
  return n;
}

bool Session::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

std::string_view Session::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

std::string_view Session::sni() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view();
}

std::string_view Session::version() const {
  return SSL_get_version(ssl_);
}

std::string_view Session::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  return c ? std::string_view(SSL_CIPHER_get_name(c)) : std::string_view();
}

}  // namespace sluice::tls
