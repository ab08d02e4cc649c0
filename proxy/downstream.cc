#include "proxy/downstream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include "proxy/http/headers.h"
#include "proxy/listener.h"
#include "proxy/redirect.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace sluice {

namespace {

enum TimerKind : uint8_t { kNone = 0, kHeader, kKeepAlive, kBody, kLinger };

constexpr uint64_t kLingerMs = 2000;
// A keep-alive connection is parked once this many housekeeping passes (one
// a second) in a row found nothing read since the previous one: idle for five
// to six seconds (Apache's default keep-alive timeout is five). A client that
// sends a request every few seconds stays live: each park and wake costs
// about eight system calls.
constexpr uint8_t kParkAfterPasses = 6;
// A connection whose keep-alive deadline is nearer than this is not parked.
constexpr uint64_t kMinParkMs = 1000;
constexpr size_t kMaxUri = 8192;

}  // namespace

void Downstream::accept(Worker& w, int fd, const Listener& listener, const sockaddr_storage& peer) {
  auto* d = new Downstream(w, listener);
  d->start(fd, peer);
}

Downstream::Downstream(Worker& w, const Listener& listener) : w_(w), listener_(listener) {}

Downstream::~Downstream() {
  Timeouts::disarm(timeout_);
  give_request();
  release_in();
}

void Downstream::release_in() {
  w_.buffers().release(in_);
}

void Downstream::take_request() {
  rq_ = w_.take_request();
  rq_->ex.bind(this);
  rq_->send_timeout.fn = &Downstream::on_send_timeout;
  rq_->send_timeout.owner = this;
}

void Downstream::give_request() {
  if (rq_ == nullptr) return;
  Timeouts::disarm(rq_->send_timeout);
  w_.give_request(rq_);
  rq_ = nullptr;
}

void Downstream::start(int fd, const sockaddr_storage& peer) {
  w_.server().connection_opened();
  counted_ = true;
  if (!open_socket(fd)) return;
  uv_tcp_nodelay(&tcp_, 1);
  set_client_ip(peer);
  const Snapshot& snap = w_.snap();
  if (listener_.config().tls) {
    std::string err;
    if (snap.tls) tls_ = tls::Session::server(snap.tls, &err);
    if (!tls_) {
      observe::Event("error", "tls_session_failed").str("error", err);
      close_now(false);
      return;
    }
    tls_->set_output_limit(kTlsOutputLimit);
  }
  await_head();
}

bool Downstream::open_socket(int fd) {
  uv_tcp_init(w_.loop(), &tcp_);
  tcp_.data = this;
  w_.add_conn(this);
  if (uv_tcp_open(&tcp_, fd) != 0) {
    ::close(fd);
    close_now(false);
    return false;
  }
  return true;
}

void Downstream::await_head() {
  msg_begin_ms_ = w_.now_ms();
  arm_timer(static_cast<uint64_t>(w_.snap().limits().client_header_timeout.count()), kHeader);
  want_read();
}

void Downstream::set_client_ip(const sockaddr_storage& peer) {
  client_ip_buf_[0] = '\0';
  if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr, client_ip_buf_,
              sizeof client_ip_buf_);
  } else if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr, client_ip_buf_,
              sizeof client_ip_buf_);
  }
  client_ip_len_ = static_cast<uint8_t>(strnlen(client_ip_buf_, sizeof client_ip_buf_));
}

// ---------------------------------------------------------------- parking

void Downstream::resume(Worker& w, int fd, const Listener& listener,
                        std::unique_ptr<tls::Session> tls) {
  auto* d = new Downstream(w, listener);
  // Still counted as open and idle from before it was parked.
  d->counted_ = true;
  d->idle_ = true;
  d->requests_ = 1;  // at least: only connections that served one are parked
  d->tls_ = std::move(tls);
  if (!d->open_socket(fd)) return;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) peer.ss_family = AF_UNSPEC;
  d->set_client_ip(peer);  // empty when the peer is gone: the read says so next
  // Bytes came: a request head is under way, or it is a close. Without a
  // head within client_header_timeout the connection closes silently, as an
  // idle keep-alive one does (requests_ > 0).
  d->await_head();
}

bool Downstream::parkable() const {
  // Between two requests with nothing anywhere in between: no request
  // state, no input buffer, no write, no bytes inside the TLS session.
  if (state_ != State::ReadHead || !idle_ || rq_ != nullptr || in_.data != nullptr) return false;
  if (writing_ || deferred_ || tls_blocked_ || read_eof_ || drain_close_ || close_after_write_) {
    return false;
  }
  if (timer_kind_ != kKeepAlive || !timeout_.armed()) return false;
  if (timeout_.at < w_.now_ms() + kMinParkMs) return false;  // closes soon anyway
  if (uv_is_closing(reinterpret_cast<const uv_handle_t*>(&tcp_)) || tcp_.write_queue_size != 0) {
    return false;
  }
  if (tls_ && (!tls_->handshake_done() || tls_->input_pending() || tls_->pending_output() > 0)) {
    return false;
  }
  return true;
}

bool Downstream::park_if_quiet() {
  // Passes since the last read, counted up to the threshold.
  if (quiet_passes_ < kParkAfterPasses) ++quiet_passes_;
  if (quiet_passes_ < kParkAfterPasses || !parkable()) return false;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return false;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return false;  // out of descriptors: it stays as it is
  if (!w_.parking().park(copy, listener_, tls_, timeout_.at)) return false;
  // Its counts (open, idle) went with it: closing this handle closes our
  // descriptor of the socket, not the socket.
  Timeouts::disarm(timeout_);
  counted_ = false;
  idle_ = false;
  timer_kind_ = kNone;
  close_now(false);
  return true;
}

// ---------------------------------------------------------------- reading

bool Downstream::make_room() {
  if (in_.data == nullptr || in_.space() > 0) return true;
  // Drop consumed bytes unless a write still points at them.
  if (state_ == State::Proxying && rq_->ex.up_writing_) return false;
  uint32_t keep = state_ == State::ReadHead ? msg_start_ : in_.pos;
  if (keep > in_.pos) keep = in_.pos;
  in_.compact(keep);
  msg_start_ -= std::min(msg_start_, keep);
  if (state_ == State::ReadHead && in_head()) rq_->parser.rebase(in_.data + msg_start_);
  return in_.space() > 0;
}

void Downstream::want_read() {
  if (read_eof_) return;
  if (state_ == State::Tunnel && rq_->ex.up_writing_) return;
  if (tls_) {
    // Plaintext may be waiting inside the TLS session: decrypt it on the
    // next loop turn rather than from inside our caller.
    if (tls_blocked_ && make_room()) w_.defer_pump(this);
    if (tls_blocked_) return;
  } else if (!make_room()) {
    return;
  }
  if (reading_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Downstream::on_alloc,
                    &Downstream::on_read) == 0) {
    reading_ = true;
  }
}

void Downstream::stop_read() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Downstream::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Downstream*>(h->data);
  if (self->tls_) {
    // Ciphertext is copied into the session at once: one scratch per worker.
    *buf = uv_buf_init(self->w_.scratch(), Worker::kScratchSize);
    return;
  }
  Buffer& in = self->in_;
  self->w_.buffers().acquire(in);
  if (self->state_ == State::Closing) in.pos = in.end = 0;  // lingering: discard
  *buf = uv_buf_init(in.data + in.end, in.space());
}

void Downstream::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Downstream*>(s->data);
  self->quiet_passes_ = 0;
  if (nread == 0) return;
  if (nread == UV_ENOBUFS) {
    self->stop_read();
    return;
  }
  if (self->tls_) {
    self->tls_on_read(nread, buf);
    return;
  }
  if (nread < 0) {
    self->on_eof(static_cast<int>(nread));
    return;
  }
  self->in_.end += static_cast<uint32_t>(nread);
  self->on_data();
}

void Downstream::on_eof(int status) {
  read_eof_ = true;
  stop_read();
  switch (state_) {
    case State::Closing:
      close_now(false);
      return;
    case State::ReadHead:
      if (writing_) {
        close_after_write_ = true;
      } else {
        close_now(false);
      }
      return;
    case State::Proxying:
    case State::Tunnel:
      if (status != UV_EOF) {
        abort();
      } else {
        rq_->ex.on_client_eof();
      }
      return;
  }
}

void Downstream::on_data() {
  switch (state_) {
    case State::Closing:
      in_.pos = in_.end = 0;
      return;
    case State::ReadHead:
      if (writing_) {
        // A local response is still going out; parse the next request after it.
        if (in_.space() == 0) stop_read();
        return;
      }
      parse_head();
      return;
    case State::Proxying:
      rq_->ex.on_client_data();
      if (in_.space() == 0) stop_read();
      return;
    case State::Tunnel:
      rq_->ex.tunnel_client_data();
      return;
  }
}

void Downstream::parse_head() {
  const config::Limits& lim = w_.snap().limits();
  for (;;) {
    if (in_.empty()) {
      if (!in_head()) {
        in_.pos = in_.end = 0;
        msg_start_ = 0;
        release_buffer_if_idle();
        set_idle(true);
      }
      want_read();
      return;
    }
    http::Parser& parser = rq().parser;
    if (!parser.in_head()) {
      // First byte of a new request: the header timeout starts now.
      set_idle(false);
      msg_start_ = in_.pos;
      parser.begin_message(in_.data + in_.pos);
      msg_begin_ms_ = w_.now_ms();
      if (timer_kind_ != kHeader) {
        arm_timer(static_cast<uint64_t>(lim.client_header_timeout.count()), kHeader);
      }
    }
    http::Parser::Result r = parser.execute(in_.data + in_.pos, in_.unread(), nullptr);
    in_.pos += static_cast<uint32_t>(r.consumed);
    switch (r.event) {
      case http::Parser::Event::Error:
        respond_local(parser.too_many_headers() ? 431 : 400, true, parser.error_reason());
        return;
      case http::Parser::Event::MessageComplete:
        // The end of the previous, bodiless request: go on with the next.
        parser.resume();
        continue;
      case http::Parser::Event::NeedMore:
        if (in_.pos - msg_start_ > lim.max_header_bytes) {
          if (!parser.url_done()) {
            respond_local(414, true, "request line too long");
          } else {
            respond_local(431, true, "request head too large");
          }
          return;
        }
        want_read();
        return;
      case http::Parser::Event::HeadComplete:
        if (in_.pos - msg_start_ > lim.max_header_bytes) {
          if (parser.head().url.len > kMaxUri) {
            respond_local(414, true, "request line too long");
          } else {
            respond_local(431, true, "request head too large");
          }
          return;
        }
        on_head();
        return;
    }
  }
}

void Downstream::on_head() {
  const http::MessageHead& h = rq_->parser.head();
  const char* base = rq_->parser.base();
  const Snapshot& snap = w_.snap();
  bool has_body = h.chunked || (h.has_content_length && h.content_length > 0);

  const http::HeadCheck check =
      http::check_request_head(h, base, kMaxUri, snap.limits().max_body_bytes);
  if (check.status != 0) {
    respond_local(check.status, true, check.reason);
    return;
  }
  const std::string_view url = h.url.view(base);
  const std::string_view host = check.host;
  const bool expect_continue = check.expect_continue;

  std::string_view path = url.substr(0, url.find('?'));
  const config::Listener& lcfg = listener_.config();
  if (lcfg.redirect_https) {
    respond_redirect(lcfg, host, url, path, has_body);
    return;
  }
  int route = snap.table.match(host, path);
  if (route < 0) {
    respond_local(404, has_body, "no route");
    return;
  }
  Exchange& ex = rq_->ex;
  std::string& cookie = ex.s().set_cookie;
  cookie.clear();
  int slot = w_.choose_slot(static_cast<uint32_t>(route), h, base, client_ip(), tls(), &cookie);
  if (slot < 0) {
    respond_local(503, has_body, "every pool of the route has weight 0");
    return;
  }
  state_ = State::Proxying;
  Timeouts::disarm(timeout_);
  timer_kind_ = kNone;
  ex.start(static_cast<uint32_t>(route), static_cast<uint32_t>(slot));
  if (state_ == State::Proxying && ex.active() && !writing_ && has_body && expect_continue &&
      h.http_minor >= 1) {
    // Tell the client to go on; the upstream never sees the Expect header.
    ex.continue_pending_ = true;
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init(const_cast<char*>(kContinue), sizeof kContinue - 1);
    write(&b, 1);
  }
}

// ---------------------------------------------------------------- writing

bool Downstream::write(const uv_buf_t* bufs, unsigned n) {
  writing_ = true;
  if (tls_) {
    tls_write(bufs, n);
    return true;
  }
  uv_write_t& req = rq().wreq;
  req.data = this;
  int r =
      w_.write(reinterpret_cast<uv_stream_t*>(&tcp_), &req, bufs, n, &Downstream::on_write, this);
  if (r < 0) {
    writing_ = false;
    abort();
    return false;
  }
  if (r == 0) write_queued();
  return r == 1;
}

void Downstream::write_queued() {
  w_.timeouts().arm(rq().send_timeout,
                    static_cast<uint64_t>(w_.snap().limits().client_send_timeout.count()));
}

void Downstream::write_progress() {
  if (rq_ == nullptr || !rq_->send_timeout.armed()) return;
  if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&tcp_)) > 0) {
    write_queued();  // more still queued: the clock starts again
  } else {
    Timeouts::disarm(rq_->send_timeout);
  }
}

void Downstream::on_send_timeout(void* arg) {
  auto* self = static_cast<Downstream*>(arg);
  observe::Event("info", "client_send_timeout").str("client_ip", self->client_ip());
  self->close_now(false);
}

void Downstream::on_write(uv_write_t* req, int status) {
  static_cast<Downstream*>(req->data)->after_write(status);
}

void Downstream::after_write(int status) {
  writing_ = false;
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  if (!tls_) write_progress();
  if (status < 0) {
    abort();
    return;
  }
  if (ex_active()) {
    rq_->ex.on_client_written();
    return;
  }
  // A local response went out.
  if (rq_ != nullptr) rq_->parser.resume();
  response_done(!close_after_write_);
}

void Downstream::respond_local(int status, bool close, std::string_view reason) {
  respond_with(status, close, reason, {}, {}, {});
}

void Downstream::respond_with(int status, bool close, std::string_view reason,
                              std::string_view content_type, std::string_view body,
                              std::string_view location) {
  stop_read();
  Timeouts::disarm(timeout_);
  timer_kind_ = kNone;
  const http::Parser& parser = rq().parser;
  std::string& out = rq_->out;
  bool client_wants_close = parser.head_done() && !parser.head().keep_alive;
  close_after_write_ = close || drain_close_ || read_eof_ || client_wants_close;
  char rid[32];
  w_.new_request_id(rid);
  bool head_method = parser.head_done() && parser.head().method == HTTP_HEAD;
  out.clear();
  http::ResponseContext ctx;
  ctx.request_id = std::string_view(rid, 32);
  ctx.tls = tls();
  ctx.keep_alive = !close_after_write_;
  ctx.client_http10 = parser.head().http_minor == 0 && parser.head_done();
  if (content_type.empty()) {
    http::build_local_response(out, status, w_.snap().policy, ctx, location);
  } else {
    http::build_local_body_response(out, status, w_.snap().policy, ctx, content_type, body);
  }
  size_t head_len = out.find("\r\n\r\n") + 4;
  if (head_method) out.resize(head_len);  // HEAD: same headers, no body
  log_local(status, reason, std::string_view(rid, 32), out.size() - head_len);
  uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
  if (close_after_write_) state_ = State::Closing;
  write(&b, 1);
}

void Downstream::respond_redirect(const config::Listener& l, std::string_view host,
                                  std::string_view target, std::string_view path, bool has_body) {
  const http::MessageHead& h = rq_->parser.head();
  if (!l.acme_webroot.empty() && path.substr(0, kAcmePrefix.size()) == kAcmePrefix &&
      (h.method == HTTP_GET || h.method == HTTP_HEAD)) {
    std::string body;
    if (!serve_acme_file(l.acme_webroot, path.substr(kAcmePrefix.size()), &body)) {
      respond_local(404, has_body, "no such ACME token");
      return;
    }
    respond_with(200, has_body, "acme token", "text/plain", body, {});
    return;
  }
  std::string_view host_only;
  if (!valid_redirect_host(host, &host_only)) {
    respond_local(400, true, "invalid Host for the HTTPS redirect");
    return;
  }
  std::string location;
  build_https_location(location, host_only, l.https_port, target);
  respond_with(301, has_body, "redirect to https", {}, {}, location);
}

void Downstream::log_local(int status, std::string_view reason, std::string_view request_id,
                           uint64_t bytes) {
  observe::AccessLog& log = w_.access_log();
  if (status >= 400 && status != 404) {
    observe::Event("info", "request_refused")
        .num("status", status)
        .str("reason", reason)
        .str("client_ip", client_ip());
  }
  if (!log.enabled()) return;
  const http::Parser& parser = rq().parser;
  const http::MessageHead& h = parser.head();
  bool have_head = parser.head_done();
  observe::AccessRecord r{};
  r.start_unix_ms = observe::wall_ms() - (w_.now_ms() - msg_begin_ms_);
  r.request_id = request_id;
  r.client_ip = client_ip();
  r.method = have_head ? llhttp_method_name(h.method) : "-";
  r.path = have_head ? h.url.view(parser.base()) : std::string_view();
  r.status = status;
  r.bytes = bytes;
  r.duration_ms = static_cast<double>(w_.now_ms() - msg_begin_ms_);
  r.upstream_ms = -1;
  log.append(r);
}

void Downstream::fail(int status, std::string_view reason) {
  respond_local(status, true, reason);
}

void Downstream::reset(std::string_view reason) {
  observe::Event("info", "connection_reset").str("reason", reason).str("client_ip", client_ip());
  close_now(true);
}

// ---------------------------------------------------------------- lifecycle

void Downstream::response_done(bool keep_alive) {
  if (!keep_alive || read_eof_ || drain_close_) {
    start_closing();
    return;
  }
  // Idle until the next request's first byte, under keepalive_timeout (a
  // pipelined request already read re-arms the header timeout).
  ++requests_;
  state_ = State::ReadHead;
  arm_timer(static_cast<uint64_t>(w_.snap().limits().keepalive_timeout.count()), kKeepAlive);
  parse_head();
}

void Downstream::enter_tunnel() {
  state_ = State::Tunnel;
  Timeouts::disarm(timeout_);
  timer_kind_ = kNone;
}

void Downstream::set_idle(bool idle) {
  if (idle == idle_) return;
  idle_ = idle;
  w_.server().idle_changed(idle ? 1 : -1);
}

void Downstream::arm_body_timer() {
  arm_timer(static_cast<uint64_t>(w_.snap().limits().client_body_timeout.count()), kBody);
}

void Downstream::release_buffer_if_idle() {
  if (!in_.empty() || writing_ || state_ != State::ReadHead) return;
  release_in();
  if (!ex_active()) give_request();
}

void Downstream::arm_timer(uint64_t ms, uint8_t kind) {
  timer_kind_ = kind;
  w_.timeouts().arm(timeout_, ms);
}

void Downstream::on_timer(void* arg) {
  auto* self = static_cast<Downstream*>(arg);
  uint8_t kind = self->timer_kind_;
  self->timer_kind_ = kNone;
  switch (kind) {
    case kHeader:
      if (self->state_ != State::ReadHead) return;
      if (!self->in_head() && self->requests_ > 0) {
        self->close_now(false);  // idle keep-alive connection
      } else {
        self->respond_local(408, true, "client header timeout");
      }
      return;
    case kKeepAlive:
      if (self->state_ == State::ReadHead && !self->in_head()) self->close_now(false);
      return;
    case kBody:
      if (self->state_ != State::Proxying) return;
      if (!self->rq_->ex.resp_head_sent_ && !self->writing_) {
        self->rq_->ex.abort();
        self->respond_local(408, true, "client body timeout");
      } else {
        self->abort();
      }
      return;
    case kLinger:
      self->close_now(false);
      return;
    default:
      return;
  }
}

void Downstream::on_drain() {
  drain_close_ = true;
  if (state_ == State::ReadHead && !in_head() && !writing_) close_now(false);
}

void Downstream::abort() {
  close_now(false);
}

void Downstream::start_closing() {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  state_ = State::Closing;
  if (ex_active()) rq_->ex.abort();
  // Lingering close: FIN first, then read and discard what the client still
  // sends for a moment, so an unread pipelined request does not turn our
  // final response into a reset on the client's side.
  if (tls_) {
    tls_->shutdown();
    tls_flush();
  }
  uv_shutdown_t& sreq = rq().sreq;
  sreq.data = this;
  if (uv_shutdown(&sreq, reinterpret_cast<uv_stream_t*>(&tcp_), &Downstream::on_shutdown) != 0) {
    close_now(false);
    return;
  }
  arm_timer(kLingerMs, kLinger);
}

void Downstream::on_shutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<Downstream*>(req->data);
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&self->tcp_))) return;
  if (status < 0 || self->read_eof_) {
    self->close_now(false);
    return;
  }
  self->in_.pos = self->in_.end = 0;
  self->want_read();
}

void Downstream::close_now(bool reset) {
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (uv_is_closing(h)) return;
  state_ = State::Closing;
  set_idle(false);
  if (deferred_) w_.cancel_pump(this);
  if (ex_active()) rq_->ex.abort();
  reading_ = false;
  Timeouts::disarm(timeout_);
  if (rq_ != nullptr) Timeouts::disarm(rq_->send_timeout);
  if (reset && uv_tcp_close_reset(&tcp_, &Downstream::on_closed) == 0) {
    // closed with RST
  } else {
    uv_close(h, &Downstream::on_closed);
  }
  w_.cancel_written(this);  // after uv_close: their callbacks see a closing handle
}

void Downstream::on_closed(uv_handle_t* h) {
  auto* self = static_cast<Downstream*>(h->data);
  Worker& w = self->w_;
  if (self->counted_) w.server().connection_closed();
  w.remove_conn(self);
  delete self;
}

}  // namespace sluice
