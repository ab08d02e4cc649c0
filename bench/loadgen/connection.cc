#include "bench/loadgen/connection.h"

#include <cassert>

#include "bench/loadgen/tls_client.h"
#include "bench/loadgen/worker.h"

namespace sluice::bench {

namespace {

Connection* from(void* data) {
  return static_cast<Connection*>(data);
}

uv_handle_t* handle(uv_tcp_t* t) {
  return reinterpret_cast<uv_handle_t*>(t);
}
uv_handle_t* handle(uv_timer_t* t) {
  return reinterpret_cast<uv_handle_t*>(t);
}
uv_stream_t* stream(uv_tcp_t* t) {
  return reinterpret_cast<uv_stream_t*>(t);
}

uint64_t to_ms_ceil(uint64_t ns) {
  return (ns + 999'999) / 1'000'000;
}

}  // namespace

const char* Connection::to_string(State s) {
  switch (s) {
    case State::Closed:
      return "closed";
    case State::Connecting:
      return "connecting";
    case State::Handshaking:
      return "handshaking";
    case State::Active:
      return "active";
    case State::Idle:
      return "idle";
    case State::Closing:
      return "closing";
  }
  return "?";
}

bool Connection::allowed(State from, State to) {
  switch (to) {
    case State::Connecting:
      return from == State::Closed;
    case State::Handshaking:
      return from == State::Connecting;
    case State::Active:
      return from == State::Connecting || from == State::Handshaking || from == State::Idle;
    case State::Idle:
      return from == State::Active;
    case State::Closing:
      return from != State::Closed && from != State::Closing;
    case State::Closed:
      return from == State::Closing;
  }
  return false;
}

void Connection::transition(State to) {
  assert(allowed(state_, to) && "illegal connection transition");
  state_ = to;
}

Connection::Connection(Worker& worker, uv_loop_t* loop)
    : worker_(worker), loop_(loop), reader_(worker.options().pool_header) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  reader_.set_head_request(worker.options().method == "HEAD");
}

// ---------------------------------------------------------------- requests

void Connection::start(uint64_t since_ns) {
  assert(!carrying_ && !shutting_down_);
  carrying_ = true;
  since_ns_ = since_ns;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { from(t->data)->on_timeout(); },
      to_ms_ceil(worker_.options().timeout_ns), 0);
  switch (state_) {
    case State::Closed:
      connect();
      break;
    case State::Idle:
      send_request();
      break;
    case State::Closing:
      start_after_close_ = true;
      break;
    case State::Connecting:
    case State::Handshaking:
    case State::Active:
      assert(false && "start() on a busy connection");
      break;
  }
  notify();
}

void Connection::connect() {
  reader_.reset();
  int rc = uv_tcp_init(loop_, &tcp_);
  if (rc != 0) {  // e.g. EMFILE: there is no handle to close
    finish(ErrorKind::Connect);
    return;
  }
  tcp_.data = this;
  transition(State::Connecting);
  rc = uv_tcp_connect(&connect_req_, &tcp_, worker_.address(), [](uv_connect_t* req, int status) {
    from(req->handle->data)->on_connected(status);
  });
  if (rc != 0) fail(ErrorKind::Connect);  // the callback will not run
}

void Connection::on_connected(int status) {
  if (status == UV_ECANCELED) return;  // closed while connecting (timeout)
  if (status != 0) {
    fail(ErrorKind::Connect);
    notify();
    return;
  }
  ++worker_.stats().connections_opened;
  uv_tcp_nodelay(&tcp_, 1);
  uv_read_start(
      stream(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) { *buf = from(h->data)->worker_.read_buffer(); },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        from(s->data)->on_read(nread, buf);
      });
  if (worker_.tls() == nullptr) {
    send_request();
  } else {
    std::string error;
    tls_ = worker_.tls()->new_session(&error);
    if (!tls_) {
      fail(ErrorKind::Tls);
    } else {
      transition(State::Handshaking);
      tls_->handshake();  // queues the ClientHello
      flush_tls();
    }
  }
  notify();
}

void Connection::send_request() {
  transition(State::Active);
  if (tls_) {
    request_tls_off_ = 0;
    write_tls_request();
    return;
  }
  const std::string& req = worker_.request();
  // libuv never writes into a buffer it sends: the shared request stays const.
  write(const_cast<char*>(req.data()), req.size());
}

// One uv_write at a time; `data` must stay put until on_written().
void Connection::write(char* data, size_t n) {
  uv_buf_t buf = uv_buf_init(data, static_cast<unsigned>(n));
  int rc = uv_write(&write_req_, stream(&tcp_), &buf, 1,
                    [](uv_write_t* w, int status) { from(w->handle->data)->on_written(status); });
  if (rc != 0) {
    fail(ErrorKind::Write);
    return;
  }
  writing_ = true;
  worker_.stats().bytes_written += n;
}

void Connection::write_tls_request() {
  const std::string& req = worker_.request();
  while (request_tls_off_ < req.size()) {
    tls::IoResult r = tls_->write(req.data() + request_tls_off_, req.size() - request_tls_off_);
    if (r.status != tls::Status::Ok) {
      fail(ErrorKind::Tls);
      return;
    }
    if (r.bytes == 0) break;  // output limit reached: on_written() continues
    request_tls_off_ += r.bytes;
  }
  flush_tls();
}

void Connection::flush_tls() {
  if (writing_ || !tls_ || tls_->pending_output() == 0) return;
  if (state_ == State::Closing || state_ == State::Closed) return;
  tls_->take_output(&tls_out_);
  write(tls_out_.data(), tls_out_.size());
}

void Connection::on_written(int status) {
  writing_ = false;
  if (status == UV_ECANCELED || state_ == State::Closing || state_ == State::Closed) return;
  if (status != 0) {
    fail(ErrorKind::Write);
  } else if (tls_) {
    if (state_ == State::Active && request_tls_off_ < worker_.request().size())
      write_tls_request();
    else
      flush_tls();
  }
  notify();
}

// ---------------------------------------------------------------- responses

void Connection::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    worker_.stats().bytes_read += static_cast<uint64_t>(nread);
    if (tls_)
      on_tls_bytes(buf->base, static_cast<size_t>(nread));
    else
      on_bytes(buf->base, static_cast<size_t>(nread));
  } else if (nread == UV_EOF) {
    if (tls_) {
      tls_->feed_eof();
      on_tls_bytes(nullptr, 0);  // reports Closed (or a truncated record)
    } else {
      on_eof();
    }
  } else if (nread < 0) {
    fail(ErrorKind::Read);
  }
  notify();
}

// Reads every record fed so far, even after the response completed: a session
// ticket may follow the response in the same read, and resumption needs it.
void Connection::on_tls_bytes(const char* data, size_t n) {
  if (n > 0) tls_->feed(data, n);
  std::vector<char>& plain = worker_.plaintext_buffer();
  while (tls_) {
    tls::IoResult r = tls_->read(plain.data(), plain.size());
    if (state_ == State::Handshaking && tls_->handshake_done()) on_handshake_done();
    bool open = state_ == State::Active || state_ == State::Idle || state_ == State::Handshaking;
    if (r.status == tls::Status::Ok && r.bytes > 0) {
      if (open) on_bytes(plain.data(), r.bytes);  // once closing, plaintext is dropped
      continue;
    }
    if (r.status == tls::Status::Closed && open) on_eof();
    if (r.status == tls::Status::Error && open) {
      flush_tls();  // a fatal alert is worth sending
      fail(ErrorKind::Tls);
    }
    break;  // WantInput, Closed, Error, or nothing read
  }
  flush_tls();
}

void Connection::on_handshake_done() {
  if (tls_->resumed())
    ++worker_.stats().tls_resumed;
  else
    ++worker_.stats().tls_full;
  send_request();
}

void Connection::on_bytes(const char* data, size_t n) {
  if (!carrying_ || state_ != State::Active) {
    // Bytes nobody asked for: the connection cannot be trusted any more.
    begin_close();
    return;
  }
  ResponseReader::Result r = reader_.feed(data, n);
  switch (r.event) {
    case ResponseReader::Event::NeedMore:
      return;
    case ResponseReader::Event::Error:
      fail(ErrorKind::Parse);
      return;
    case ResponseReader::Event::Complete:
      // Anything after the response is unsolicited (no pipelining): do not reuse.
      complete_response(/*reusable=*/r.consumed == n);
      return;
  }
}

void Connection::on_eof() {
  if (carrying_ && state_ == State::Active && reader_.finish_eof()) {
    complete_response(/*reusable=*/false);  // a close-delimited body
    return;
  }
  if (carrying_)
    fail(ErrorKind::Read);  // closed before the response completed
  else
    begin_close();  // an idle keep-alive connection the server closed
}

void Connection::complete_response(bool reusable) {
  worker_.on_response(reader_, since_ns_, uv_hrtime());
  carrying_ = false;
  available_ = true;
  uv_timer_stop(&timer_);
  // Reused only when the whole request went out: the response may come early
  // (an error before the body was read), and write_req_ must be free again.
  bool request_sent = !writing_ && (!tls_ || request_tls_off_ == worker_.request().size());
  reusable = reusable && request_sent && reader_.keep_alive() && !worker_.options().new_connection;
  reader_.next();
  if (reusable)
    transition(State::Idle);
  else
    begin_close();
}

// ---------------------------------------------------------------- failures and closing

void Connection::on_timeout() {
  fail(ErrorKind::Timeout);
  notify();
}

// Reports the request carried (if any) as failed and frees the slot.
void Connection::finish(ErrorKind kind) {
  if (!carrying_) return;
  worker_.on_error(kind, uv_hrtime());
  carrying_ = false;
  available_ = true;
  start_after_close_ = false;
  uv_timer_stop(&timer_);
}

void Connection::fail(ErrorKind kind) {
  finish(kind);
  begin_close();
}

void Connection::begin_close() {
  if (state_ == State::Closed || state_ == State::Closing) return;
  transition(State::Closing);
  uv_close(handle(&tcp_), [](uv_handle_t* h) { from(h->data)->on_closed(); });
}

void Connection::on_closed() {
  transition(State::Closed);
  tls_.reset();
  writing_ = false;
  if (start_after_close_) {
    start_after_close_ = false;
    connect();
  }
  notify();
}

void Connection::shutdown() {
  assert(!carrying_);
  shutting_down_ = true;
  start_after_close_ = false;
  uv_close(handle(&timer_), nullptr);
  begin_close();
}

// Called last in every entry point: the worker may start the next request on
// this very connection, so nothing of the current one may be touched after.
void Connection::notify() {
  if (!available_ || shutting_down_) return;
  available_ = false;
  worker_.on_available(*this);
}

}  // namespace sluice::bench
