// The TLS half of a client connection: ciphertext from the socket goes into
// the tls::Session, plaintext comes out into the same input buffer the plain
// path reads into, so parsing, proxying and backpressure are one code path.
// OpenSSL never sees the fd (memory BIOs, see tls/session.h).
#include <algorithm>
#include <cstring>

#include "proxy/downstream.h"
#include "proxy/worker.h"

namespace sluice {

void Downstream::tls_on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    tls_->feed_eof();
  } else {
    tls_->feed(buf->base, static_cast<size_t>(nread));
  }
  tls_pump();
}

void Downstream::tls_pump() {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  tls_blocked_ = false;
  if (!tls_->handshake_done()) {
    tls::IoResult r = tls_->handshake();
    tls_flush();
    if (r.status == tls::Status::Error || r.status == tls::Status::Closed) {
      // Scanners and vanished clients: nothing to answer, an alert at most.
      close_now(false);
      return;
    }
    if (!tls_->handshake_done()) {
      want_read();
      return;
    }
  }
  bool got = false;
  bool closed = false;
  for (;;) {
    w_.buffers().acquire(in_);
    if (state_ == State::Closing) in_.pos = in_.end = 0;  // lingering: discard
    if (in_.space() == 0 && !make_room()) {
      tls_blocked_ = true;  // resumed by want_read() once the buffer has room
      break;
    }
    tls::IoResult r = tls_->read(in_.data + in_.end, in_.space());
    if (r.status == tls::Status::Ok) {
      in_.end += static_cast<uint32_t>(r.bytes);
      got = got || r.bytes > 0;
      if (r.bytes == 0 || !tls_->input_pending()) break;  // spare the call that says WantInput
      continue;
    }
    if (r.status == tls::Status::WantInput) break;
    if (r.status == tls::Status::Closed) {
      closed = true;
      break;
    }
    tls_flush();
    close_now(false);
    return;
  }
  tls_flush();
  if (tls_blocked_) stop_read();
  if (got) on_data();
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  if (closed) {
    on_eof(UV_EOF);
    return;
  }
  if (!tls_blocked_ && !reading_ && state_ != State::Tunnel) want_read();
  if (state_ == State::Tunnel && !rq_->ex.up_writing_ && !tls_blocked_) want_read();
}

namespace {
// Small pieces (a response head, a short body) are gathered here and
// encrypted as one record: each record costs OpenSSL a cipher setup and a
// MAC whatever its size, and a head plus a 128-byte body would be two.
constexpr size_t kGather = 16384;  // one TLS record of plaintext
thread_local char g_gather[kGather];
}  // namespace

bool Downstream::tls_write_all(const char* p, size_t n) {
  size_t off = 0;
  while (off < n) {
    tls::IoResult r = tls_->write(p + off, n - off);
    if (r.status != tls::Status::Ok || r.bytes == 0) return false;
    off += r.bytes;
  }
  return true;
}

void Downstream::tls_write(const uv_buf_t* bufs, unsigned n) {
  size_t used = 0;
  bool ok = true;
  for (unsigned i = 0; i < n && ok; ++i) {
    if (bufs[i].len <= kGather - used) {
      std::memcpy(g_gather + used, bufs[i].base, bufs[i].len);
      used += bufs[i].len;
      continue;
    }
    if (used > 0) ok = tls_write_all(g_gather, used);
    used = 0;
    ok = ok && tls_write_all(bufs[i].base, bufs[i].len);
  }
  if (ok && used > 0) ok = tls_write_all(g_gather, used);
  if (!ok || !tls_flush(true)) {
    writing_ = false;
    abort();
  }
}

// Queues the session's pending ciphertext. libuv keeps writes on one stream
// in order, so records reach the socket in the order OpenSSL made them.
bool Downstream::tls_flush(bool app) {
  if (tls_->pending_output() == 0 && !app) return true;
  TlsWrite* t = w_.take_tls_write();
  t->d = this;
  t->app = app;
  tls_->take_output(&t->data);
  t->req.data = t;
  uv_buf_t b = uv_buf_init(t->data.data(), static_cast<unsigned>(t->data.size()));
  int r = w_.write(reinterpret_cast<uv_stream_t*>(&tcp_), &t->req, &b, 1, &Downstream::on_tls_write,
                   this);
  if (r < 0) {
    w_.give_tls_write(t);
    return false;
  }
  if (r == 0) write_queued();
  return true;
}

void Downstream::on_tls_write(uv_write_t* req, int status) {
  auto* t = static_cast<TlsWrite*>(req->data);
  Downstream* d = t->d;
  bool app = t->app;
  d->w_.give_tls_write(t);
  if (status == 0 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&d->tcp_))) d->write_progress();
  if (app) {
    d->after_write(status);
  } else if (status < 0 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&d->tcp_))) {
    d->close_now(false);
  }
}

}  // namespace sluice
