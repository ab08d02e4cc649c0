// Session: one TLS connection, driven entirely through memory; it never sees a
// file descriptor.
//
//   socket bytes --feed()--> [in buffer] --SSL--> read()  --> plaintext
//   plaintext    --write()-> SSL --> [out buffer] --take_output()--> socket
//
// Ownership and threads: a Session belongs to the one worker thread that owns
// the connection; no method may be called concurrently, and none blocks or does
// I/O. It holds a std::shared_ptr to its ServerContext, so a config reload never
// pulls the context out from under a live connection. Nothing here throws; no
// callback calls back into the caller.
//
// Driving it from libuv (the proxy's side):
//   alloc_cb/read_cb:  feed(buf, nread); then call read() until it returns
//                      WantInput (or Closed / Error), handing each Ok chunk to
//                      the HTTP parser. On UV_EOF call feed_eof() and read() once
//                      more: that reports Closed (or Error mid-handshake).
//   after every feed()/read()/write()/shutdown(): if pending_output() > 0,
//                      take_output(buf) and uv_write() it. take_output() moves
//                      the bytes OpenSSL produced into the caller's std::string
//                      (no copy); keep it alive until the write callback, then
//                      hand it back through the next take_output(buf) call to
//                      reuse its capacity. read_output() is the bounded-copy
//                      alternative.
//   sending:           write(p, n) returns how many bytes it accepted; it stops
//                      early when pending output reaches output_limit() (the
//                      backpressure signal: wait for the uv_write callback,
//                      take the output, then write the rest).
//   closing:           shutdown() queues close_notify; flush the output, then
//                      close the socket. After read() returns Closed, do the same.
//   errors:            read() returning Error is final: error() says why, and
//                      pending output may hold a fatal alert worth flushing
//                      before the close.
//
// Memory: buffers are released while idle (SSL_MODE_RELEASE_BUFFERS, and the
// in/out buffers here are freed once drained when they grew large).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tls/context.h"

struct ssl_st;

namespace sluice::tls {

enum class Status {
  Ok,         // `bytes` were transferred (may be 0 for write with n == 0)
  WantInput,  // need more ciphertext from the peer (feed() it); check pending_output()
  Closed,     // the peer closed: close_notify, or EOF after the handshake
  Error,      // fatal protocol or handshake error; see error()
};

struct IoResult {
  Status status;
  size_t bytes = 0;
};

const char* to_string(Status s);

class Session {
 public:
  // A server-side connection under `context` (must not be null). Returns null and
  // sets *error only when OpenSSL cannot allocate.
  static std::unique_ptr<Session> server(std::shared_ptr<const ServerContext> context,
                                         std::string* error = nullptr);

  // Takes ownership of an already-configured SSL (client or server role chosen by
  // the caller with SSL_set_connect_state / SSL_set_accept_state); its BIOs are
  // replaced. For tests and a future upstream TLS client.
  static std::unique_ptr<Session> adopt(ssl_st* ssl, std::string* error = nullptr);

  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // --- ciphertext in
  // Appends ciphertext received from the socket (copied once).
  void feed(const char* data, size_t n);
  // The peer closed its side (UV_EOF / ECONNRESET).
  void feed_eof();

  // --- plaintext out; also drives the handshake
  IoResult read(char* out, size_t cap);
  // True when read() may return more without another feed(): ciphertext not
  // yet decrypted, or plaintext OpenSSL holds. False means read() would only
  // say WantInput.
  bool input_pending() const;
  // Drives the handshake without consuming application data: Ok once done.
  IoResult handshake();

  // --- plaintext in. Before the handshake completes: WantInput, 0 bytes.
  IoResult write(const char* p, size_t n);
  IoResult write(std::string_view s) { return write(s.data(), s.size()); }

  // Queues close_notify (once). Before the handshake completes, queues nothing.
  void shutdown();

  // --- ciphertext out
  size_t pending_output() const { return out_.size() - out_off_; }
  // Moves all pending ciphertext into *buf (its previous contents are dropped,
  // its capacity is kept by the session for the next output).
  void take_output(std::string* buf);
  std::string take_output();
  // Copies up to `cap` bytes of pending ciphertext and consumes them.
  size_t read_output(char* dst, size_t cap);

  size_t output_limit() const { return output_limit_; }
  void set_output_limit(size_t bytes) { output_limit_ = bytes ? bytes : 1; }

  // --- state
  bool handshake_done() const { return handshake_done_; }
  bool resumed() const;              // valid once handshake_done()
  std::string_view alpn() const;     // "http/1.1", "http/1.0" or empty
  std::string_view sni() const;      // server name sent by the client, or empty
  std::string_view version() const;  // "TLSv1.3", ...
  std::string_view cipher() const;   // "TLS_AES_128_GCM_SHA256", ...
  bool close_notify_received() const { return close_notify_received_; }
  // True once an error made the session unusable (read() returned Error).
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  ssl_st* native() const { return ssl_; }  // tests / diagnostics only

  static constexpr size_t kDefaultOutputLimit = 64 * 1024;

 private:
  Session() = default;
  bool attach(ssl_st* ssl, std::string* error);
  IoResult fail(int ssl_error, const char* what);
  void after_io();
  friend struct SessionBio;

  ssl_st* ssl_ = nullptr;
  std::shared_ptr<const ServerContext> context_;  // null for adopted sessions
  std::string in_;
  size_t in_off_ = 0;
  std::string out_;
  size_t out_off_ = 0;
  size_t output_limit_ = kDefaultOutputLimit;
  std::string error_;
  bool eof_ = false;
  bool fed_ = false;  // any ciphertext ever arrived
  bool handshake_done_ = false;
  bool close_notify_received_ = false;
  bool shutdown_sent_ = false;
  bool failed_ = false;
  bool closed_ = false;
};

}  // namespace sluice::tls
