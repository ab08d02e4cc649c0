#include "proxy/exchange.h"

#include <charconv>
#include <cstring>

#include "proxy/downstream.h"
#include "proxy/snapshot.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

namespace sluice {

namespace {

bool is_idempotent(llhttp_method_t m) {
  switch (m) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_OPTIONS:
    case HTTP_TRACE:
      return true;
    default:
      return false;
  }
}

// A client-supplied request id is kept only when it is short and plain.
bool valid_request_id(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// "timeout=5, max=100" -> 5000
uint64_t keepalive_timeout_ms(std::string_view v) {
  size_t at = v.find("timeout=");
  if (at == std::string_view::npos) return 0;
  v.remove_prefix(at + 8);
  uint64_t secs = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (r.ec != std::errc()) return 0;
  return secs * 1000;
}

double ms_since(uint64_t start_ns) {
  return static_cast<double>(uv_hrtime() - start_ns) / 1e6;
}

const char kCrLf[] = "\r\n";
const char kLastChunk[] = "0\r\n\r\n";

}  // namespace

// ---------------------------------------------------------------- start

void Exchange::start(uint32_t route, uint32_t slot) {
  Worker& w = d_->worker();
  snap_ = w.snap_ptr();
  const http::MessageHead& h = d_->parser().head();
  const char* base = d_->parser().base();

  active_ = true;
  phase_ = Phase::Connecting;
  route_ = route;
  slot_ = slot;
  pool_ = snap_->routes[route].pools[slot];
  outcome_ = routing::Outcome::kOk;
  server_ = 0;
  attempts_ = 0;
  retried_fresh_ = false;
  method_ = h.method;
  idempotent_ = is_idempotent(h.method);
  req_chunked_ = h.chunked;
  req_upgrade_ = h.upgrade;
  req_body_ = !h.upgrade && (h.chunked || (h.has_content_length && h.content_length > 0));
  req_done_ = !req_body_;
  req_sent_any_body_ = false;
  client_http10_ = h.http_minor == 0;
  client_keep_alive_ = h.keep_alive;
  head_sent_up_ = false;
  up_writing_ = false;
  resp_head_sent_ = resp_begun_ = resp_done_ = resp_close_ = false;
  up_eof_ = continue_pending_ = local_response_ = false;
  framing_ = http::Framing::Length;
  status_ = 0;
  bytes_out_ = 0;
  up_ms_ = -1;
  start_ns_ = uv_hrtime();
  up_start_ns_ = start_ns_;
  s().path.assign(h.url.view(base));

  std::string_view rid;
  std::string_view trace;
  bool have_trace = false;
  for (const http::HeaderSpan& hs : h.headers) {
    http::Tok t = http::classify(hs.name.view(base));
    if (t == http::Tok::XRequestId && rid.empty()) rid = hs.value.view(base);
    if (t == http::Tok::Traceparent && !have_trace) {
      have_trace = http::parse_traceparent(hs.value.view(base), &trace);
    }
  }
  if (valid_request_id(rid)) {
    std::memcpy(request_id_, rid.data(), rid.size());
    request_id_len_ = static_cast<uint8_t>(rid.size());
  } else {
    w.new_request_id(request_id_);
    request_id_len_ = 32;
  }
  // W3C trace context: pass a valid traceparent on, else start a trace.
  std::string_view new_traceparent;
  if (have_trace) {
    std::memcpy(trace_id_, trace.data(), 32);
  } else {
    char parent[32];
    w.new_request_id(trace_id_);
    w.new_request_id(parent);
    std::memcpy(traceparent_, "00-", 3);
    std::memcpy(traceparent_ + 3, trace_id_, 32);
    traceparent_[35] = '-';
    std::memcpy(traceparent_ + 36, parent, 16);
    std::memcpy(traceparent_ + 52, "-01", 3);
    new_traceparent = std::string_view(traceparent_, sizeof traceparent_);
  }

  const PoolRuntime& p = snap_->pools[pool_];
  http::ForwardContext ctx;
  ctx.client_ip = d_->client_ip();
  ctx.proto = d_->tls() ? "https" : "http";
  ctx.request_id = std::string_view(request_id_, request_id_len_);
  ctx.traceparent = new_traceparent;
  ctx.default_host = p.servers.empty() ? std::string_view() : std::string_view(p.servers[0].host);
  ctx.chunked_body = req_chunked_;
  ctx.upgrade = req_upgrade_;
  s().up_head.clear();
  http::build_upstream_request(s().up_head, h, base, ctx);
  // The head is copied out: the input buffer may now drop it, and the
  // parser goes on with the body (or the end of a bodiless message).
  d_->msg_start_ = d_->in().pos;
  d_->parser().resume();

  connect(false);
}

void Exchange::connect(bool fresh_only) {
  Worker& w = d_->worker();
  const PoolRuntime& p = snap_->pools[pool_];
  if (p.servers.empty()) {
    respond_error(503, "pool has no servers");
    return;
  }
  UpstreamPool& pools = w.upstreams();
  auto n = static_cast<uint32_t>(p.servers.size());
  server_ = pools.next_server(pool_, n, attempts_ > 0 ? static_cast<int>(server_) : -1);
  // Skip servers the health checks took out; none left is a fast 503.
  const HealthTable& health = *snap_->health;
  for (uint32_t tries = 0; !health.healthy(pool_, server_); ++tries) {
    if (tries >= n) {
      // Counts against the pool like a connect failure: a canary whose
      // servers are all out must still breach its error rate.
      outcome_ = routing::Outcome::kConnectFailure;
      respond_error(503, "no healthy server in the pool");
      return;
    }
    server_ = (server_ + 1) % n;
  }
  Upstream* u = fresh_only ? nullptr : pools.take_idle(snap_->generation, pool_, server_);
  if (u != nullptr) {
    up_ = u;
    u->attach(this);
    begin_sending();
    return;
  }
  phase_ = Phase::Connecting;
  up_ = pools.create(snap_->generation, pool_, server_);
  up_->connect(this, p.servers[server_].sa, p.connect_timeout_ms);
}

void Exchange::on_upstream_connected(Upstream* u, int status) {
  if (u != up_) return;
  if (status < 0) {
    const PoolRuntime& p = snap_->pools[pool_];
    snap_->health->report_failure(pool_, server_, d_->worker().now_ms());
    observe::Event("warn", "upstream_connect_failed")
        .str("pool", p.name)
        .str("server", p.servers[server_].text)
        .str("error", uv_strerror(status))
        .str("request_id", std::string_view(request_id_, request_id_len_));
    release_upstream(false);
    ++attempts_;
    if (attempts_ < 2 && p.servers.size() > 1) {
      connect(true);  // once more, on another server of the pool
      return;
    }
    if (status == UV_ETIMEDOUT) {
      outcome_ = routing::Outcome::kTimeout;
      respond_error(504, "upstream connect timeout");
    } else {
      outcome_ = routing::Outcome::kConnectFailure;
      respond_error(502, "upstream connect failed");
    }
    return;
  }
  begin_sending();
}

void Exchange::begin_sending() {
  phase_ = Phase::Sending;
  up_start_ns_ = uv_hrtime();
  up_->parser().set_response_to_head(method_ == HTTP_HEAD);
  resp_begun_ = false;
  up_->read_start();
  up_->arm_timeout(snap_->pools[pool_].read_timeout_ms);
  forward_request();
}

// ---------------------------------------------------------------- request

void Exchange::append_body_iov(std::vector<http::Slice>& slices, bool chunked, bool last,
                               int side) {
  ExchangeScratch& sc = s();
  if (chunked) {
    uint64_t total = 0;
    for (const http::Slice& sl : slices) total += sl.len;
    if (total > 0) {
      char* hdr = chunk_hdr_[side];
      auto r = std::to_chars(hdr, hdr + 20, total, 16);
      r.ptr[0] = '\r';
      r.ptr[1] = '\n';
      sc.iov.push_back(uv_buf_init(hdr, static_cast<unsigned>(r.ptr + 2 - hdr)));
    }
    for (const http::Slice& sl : slices) {
      sc.iov.push_back(uv_buf_init(const_cast<char*>(sl.data), static_cast<unsigned>(sl.len)));
    }
    if (total > 0) sc.iov.push_back(uv_buf_init(const_cast<char*>(kCrLf), 2));
    if (last) sc.iov.push_back(uv_buf_init(const_cast<char*>(kLastChunk), 5));
    return;
  }
  for (const http::Slice& sl : slices) {
    sc.iov.push_back(uv_buf_init(const_cast<char*>(sl.data), static_cast<unsigned>(sl.len)));
  }
}

void Exchange::forward_request() {
  if (up_ == nullptr || up_writing_ || local_response_ || phase_ == Phase::Connecting ||
      phase_ == Phase::Tunnel) {
    return;
  }
  ExchangeScratch& sc = s();
  sc.iov.clear();
  sc.slices.clear();
  if (!head_sent_up_) {
    sc.iov.push_back(uv_buf_init(sc.up_head.data(), static_cast<unsigned>(sc.up_head.size())));
  }
  if (!req_done_) {
    Buffer& in = d_->in();
    bool last = false;
    if (in.unread() > 0) {
      http::Parser& p = d_->parser();
      http::Parser::Result r = p.execute(in.data + in.pos, in.unread(), &sc.slices);
      in.pos += static_cast<uint32_t>(r.consumed);
      if (r.event == http::Parser::Event::Error) {
        client_bad_body();
        return;
      }
      if (p.body_bytes() > snap_->limits().max_body_bytes) {
        d_->reset("request body over max_body_bytes");
        return;
      }
      if (r.event == http::Parser::Event::MessageComplete) {
        req_done_ = true;
        last = true;
      }
    }
    append_body_iov(sc.slices, req_chunked_, last, 0);
  }
  if (sc.iov.empty()) {
    if (!req_done_) {
      d_->want_read();
      d_->arm_body_timer();
    }
    return;
  }
  if (!sc.slices.empty()) req_sent_any_body_ = true;
  head_sent_up_ = true;
  up_writing_ = true;
  if (!req_done_) d_->arm_body_timer();
  up_->write(sc.iov.data(), static_cast<unsigned>(sc.iov.size()));
}

void Exchange::on_upstream_written(int status) {
  up_writing_ = false;
  if (status < 0) {
    upstream_failed(uv_strerror(status), false);
    return;
  }
  if (phase_ == Phase::Tunnel) {
    if (d_->read_eof_) {
      d_->abort();
      return;
    }
    tunnel_client_data();  // the buffer is drained: back to the pool, read on
    return;
  }
  Buffer& in = d_->in();
  if (in.empty()) {
    in.pos = in.end = 0;
    d_->msg_start_ = 0;
  }
  if (!req_done_) {
    forward_request();
    if (!up_writing_) d_->want_read();
  } else if (phase_ == Phase::Sending) {
    phase_ = Phase::Waiting;
    d_->want_read();  // only to notice a client that goes away
  }
}

void Exchange::on_client_data() {
  if (phase_ == Phase::Tunnel) {
    tunnel_client_data();
    return;
  }
  if (!req_done_) forward_request();
  // Otherwise: pipelined bytes wait in the buffer for the next request.
}

void Exchange::client_bad_body() {
  observe::Event("info", "request_refused")
      .num("status", 400)
      .str("reason", d_->parser().error_reason())
      .str("client_ip", d_->client_ip());
  if (resp_head_sent_ || d_->write_pending()) {
    d_->abort();
    return;
  }
  req_done_ = false;  // forces the close after the answer
  respond_error(400, d_->parser().error_reason());
}

void Exchange::on_client_eof() {
  if (phase_ == Phase::Tunnel) {
    if (!up_writing_) d_->abort();
    return;
  }
  if (!req_done_) {
    d_->abort();  // the client went away in the middle of its request
    return;
  }
  // A half-close after a complete request: answer, then close.
}

// ---------------------------------------------------------------- response

void Exchange::on_upstream_data() {
  if (phase_ == Phase::Tunnel) {
    tunnel_upstream_data();
    return;
  }
  if (local_response_) return;
  up_->arm_timeout(snap_->pools[pool_].read_timeout_ms);
  forward_response();
}

void Exchange::build_response_head() {
  Upstream& u = *up_;
  const http::MessageHead& h = u.parser().head();
  const char* base = u.parser().base();
  status_ = h.status;
  if (h.status >= 500) outcome_ = routing::Outcome::kUpstream5xx;
  up_ms_ = ms_since(up_start_ns_);
  snap_->health->report_success(pool_, server_);
  bool upgrade = h.status == 101 && req_upgrade_;
  framing_ = http::response_framing(h, method_ == HTTP_HEAD, client_http10_, upgrade);
  bool keep_alive = client_keep_alive_ && req_done_ && !d_->read_eof_ && !d_->drain_close_ &&
                    !d_->worker().draining() && framing_ != http::Framing::Close && !upgrade;
  resp_close_ = !keep_alive;
  for (const http::HeaderSpan& hs : h.headers) {
    if (http::classify(hs.name.view(base)) == http::Tok::KeepAlive) {
      u.server_keepalive_ms = keepalive_timeout_ms(hs.value.view(base));
    }
  }
  http::ResponseContext ctx;
  ctx.request_id = std::string_view(request_id_, request_id_len_);
  ctx.tls = d_->tls();
  ctx.keep_alive = keep_alive;
  ctx.client_http10 = client_http10_;
  ctx.framing = framing_;
  ctx.upgrade = upgrade;
  ctx.extra = s().set_cookie;
  s().resp_head.clear();
  http::build_downstream_response(s().resp_head, h, base, snap_->policy, ctx);
}

void Exchange::forward_response() {
  if (up_ == nullptr || d_->write_pending() || local_response_) return;
  ExchangeScratch& sc = s();
  Upstream& u = *up_;
  Buffer& in = u.in();
  http::Parser& p = u.parser();
  sc.iov.clear();
  sc.slices.clear();
  bool last = false;
  bool head_now = false;
  while (!resp_done_ && in.unread() > 0) {
    if (!resp_begun_) {
      p.begin_message(in.data + in.pos);
      resp_begun_ = true;
    }
    http::Parser::Result r = p.execute(in.data + in.pos, in.unread(), &sc.slices);
    in.pos += static_cast<uint32_t>(r.consumed);
    if (r.event == http::Parser::Event::Error) {
      upstream_failed(p.error_reason(), false);
      return;
    }
    int st = p.head().status;
    bool informational = st >= 100 && st < 200 && st != 101;
    if (p.head_done() && !resp_head_sent_ && !head_now && !informational) {
      build_response_head();
      head_now = true;
    }
    if (r.event == http::Parser::Event::MessageComplete) {
      if (informational) {  // 100 / 103: not forwarded; the real response follows
        p.resume();
        resp_begun_ = false;
        sc.slices.clear();
        continue;
      }
      resp_done_ = true;
      last = true;
      break;
    }
    if (r.event == http::Parser::Event::NeedMore) break;
  }
  if (!resp_done_ && up_eof_ && in.unread() == 0) {
    if ((resp_head_sent_ || head_now) && p.needs_eof() && p.finish()) {
      resp_done_ = true;
      last = true;
    } else {
      upstream_failed("upstream closed the connection mid-response", false);
      return;
    }
  }
  if (head_now) {
    sc.iov.push_back(uv_buf_init(sc.resp_head.data(), static_cast<unsigned>(sc.resp_head.size())));
    resp_head_sent_ = true;
    phase_ = Phase::Responding;
  }
  if (resp_head_sent_) {
    for (const http::Slice& sl : sc.slices) bytes_out_ += sl.len;
    append_body_iov(sc.slices, framing_ == http::Framing::Chunked, last, 1);
  }
  if (sc.iov.empty()) {
    if (resp_done_ && resp_head_sent_) {
      on_client_written();
    } else {
      u.read_start();
    }
    return;
  }
  bool more = !resp_done_ || (status_ == 101 && req_upgrade_);
  if (!more) u.response_complete();  // keeps reading: no epoll change on the way back to idle
  bool freed = d_->write(sc.iov.data(), static_cast<unsigned>(sc.iov.size()));
  if (!more || !active_ || up_ != &u) return;
  if (freed && status_ != 101) {
    // The kernel (or the TLS session) has the bytes: read on into the buffer
    // while the write callback is due. A full buffer stops reading
    // (Upstream::on_read) until the client takes what is in it.
    u.read_start();
  } else {
    u.read_stop();  // backpressure: the queued write still points into the buffer
  }
}

void Exchange::on_client_written() {
  if (continue_pending_) {
    continue_pending_ = false;
    if (local_response_) {
      send_local();
    } else {
      forward_response();
    }
    return;
  }
  if (phase_ == Phase::Tunnel) {
    tunnel_upstream_data();  // drained: back to the pool, read on (or close after EOF)
    return;
  }
  if (local_response_) {
    finish();
    return;
  }
  if (up_ == nullptr) return;
  Buffer& in = up_->in();
  if (in.empty() && !up_->parser().in_head()) in.pos = in.end = 0;
  if (resp_done_) {
    if (status_ == 101 && req_upgrade_) {
      enter_tunnel();
      return;
    }
    finish();
    return;
  }
  forward_response();
}

void Exchange::on_upstream_eof(int status) {
  up_eof_ = true;
  if (phase_ == Phase::Tunnel) {
    if (!d_->write_pending()) d_->abort();
    return;
  }
  if (local_response_ || resp_done_) return;
  http::Parser& p = up_->parser();
  bool head_seen = resp_head_sent_ || (resp_begun_ && p.head_done());
  if (status == UV_EOF && head_seen && p.needs_eof()) {
    forward_response();  // completes the close-delimited body
    return;
  }
  upstream_failed(status == UV_EOF ? "upstream closed the connection" : uv_strerror(status), false);
}

void Exchange::on_upstream_timeout() {
  if (phase_ == Phase::Tunnel) {
    d_->abort();
    return;
  }
  upstream_failed("upstream read timeout", true);
}

bool Exchange::may_retry_on_fresh() const {
  return !retried_fresh_ && idempotent_ && !req_body_ && !resp_head_sent_;
}

void Exchange::upstream_failed(std::string_view reason, bool timeout) {
  bool fresh_retry =
      !timeout && up_ != nullptr && up_->reused() && !up_->got_bytes() && may_retry_on_fresh();
  {
    const PoolRuntime& p = snap_->pools[pool_];
    observe::Event ev(fresh_retry ? "info" : "warn", "upstream_error");
    ev.str("reason", reason).str("pool", p.name);
    if (server_ < p.servers.size()) ev.str("server", p.servers[server_].text);
    ev.flag("reused_connection", up_ != nullptr && up_->reused())
        .flag("retry", fresh_retry)
        .str("request_id", std::string_view(request_id_, request_id_len_));
  }
  if (!fresh_retry) snap_->health->report_failure(pool_, server_, d_->worker().now_ms());
  if (fresh_retry) {
    // The keep-alive race: the server closed an idle connection just as we
    // reused it. Nothing reached it that matters; try once on a new one.
    release_upstream(false);
    retried_fresh_ = true;
    head_sent_up_ = false;
    up_eof_ = false;
    connect(true);
    return;
  }
  if (resp_head_sent_) {
    d_->abort();  // mid-body: the client sees a truncated response, as with nginx
    return;
  }
  outcome_ = timeout ? routing::Outcome::kTimeout : routing::Outcome::kUpstream5xx;
  respond_error(timeout ? 504 : 502, reason);
}

void Exchange::respond_error(int status, std::string_view) {
  release_upstream(false);
  local_response_ = true;
  status_ = status;
  resp_close_ = !req_done_ || !client_keep_alive_ || d_->read_eof_ || d_->drain_close_ ||
                d_->worker().draining();
  http::ResponseContext ctx;
  ctx.request_id = std::string_view(request_id_, request_id_len_);
  ctx.tls = d_->tls();
  ctx.keep_alive = !resp_close_;
  ctx.client_http10 = client_http10_;
  s().resp_head.clear();
  http::build_local_response(s().resp_head, status, snap_->policy, ctx);
  resp_head_sent_ = true;
  resp_done_ = true;
  if (!d_->write_pending()) send_local();
  // else: sent when the "100 Continue" write completes
}

void Exchange::send_local() {
  d_->stop_read();
  uv_buf_t b = uv_buf_init(s().resp_head.data(), static_cast<unsigned>(s().resp_head.size()));
  d_->write(&b, 1);
}

// ---------------------------------------------------------------- tunnel

void Exchange::enter_tunnel() {
  phase_ = Phase::Tunnel;
  d_->enter_tunnel();
  // Both heads are sent and parsed: what only they needed goes back, so an
  // idle tunnel holds its connections' state and no more.
  if (!up_writing_) s().release_heads();
  d_->parser().release_headers();
  if (up_ != nullptr) up_->parser().release_headers();
  // Bytes that came with the heads belong to the tunnel.
  tunnel_client_data();
  tunnel_upstream_data();
}

void Exchange::tunnel_client_data() {
  if (phase_ != Phase::Tunnel || up_ == nullptr || up_writing_) return;
  Buffer& in = d_->in();
  if (in.unread() == 0) {
    // Drained, and no upstream write points into it: the buffer goes back to
    // the pool (the next read takes one), so an idle tunnel holds none.
    d_->release_in();
    d_->want_read();
    return;
  }
  uv_buf_t b = uv_buf_init(in.data + in.pos, in.unread());
  in.pos = in.end;
  up_writing_ = true;
  d_->stop_read();
  up_->write(&b, 1);
}

void Exchange::tunnel_upstream_data() {
  if (phase_ != Phase::Tunnel || up_ == nullptr || d_->write_pending()) return;
  Buffer& in = up_->in();
  if (in.unread() == 0) {
    // As on the client side: no client write points into it any more.
    up_->release_in();
    if (up_eof_) {
      d_->abort();
      return;
    }
    up_->read_start();
    return;
  }
  uv_buf_t b = uv_buf_init(in.data + in.pos, in.unread());
  in.pos = in.end;
  up_->read_stop();
  d_->write(&b, 1);
}

// ---------------------------------------------------------------- end

void Exchange::finish() {
  log(status_);
  record_stats();
  bool reusable = up_ != nullptr && resp_done_ && req_done_ && !up_eof_ && !up_writing_ &&
                  !local_response_ && status_ != 101 && up_->parser().head().keep_alive &&
                  up_->in().empty();
  release_upstream(reusable);
  active_ = false;
  phase_ = Phase::Done;
  snap_.reset();
  scratch_.clear();
  d_->response_done(!resp_close_);
}

void Exchange::abort() {
  if (!active_) return;
  if (status_ == 0 || resp_head_sent_) {
    // nginx's 499: the client went away before the response was complete.
    if (!resp_done_) status_ = 499;
  }
  log(status_);
  record_stats();
  release_upstream(false);
  active_ = false;
  phase_ = Phase::Done;
  snap_.reset();
  scratch_.clear();
}

void Exchange::release_upstream(bool reusable) {
  if (up_ == nullptr) return;
  Upstream* u = up_;
  up_ = nullptr;
  up_writing_ = false;
  d_->worker().upstreams().release(u, reusable);
}

void Exchange::record_stats() {
  uint64_t us = (uv_hrtime() - start_ns_) / 1000;
  int64_t up_us = up_ms_ < 0 ? -1 : static_cast<int64_t>(up_ms_ * 1000.0);
  snap_->stats->cell(d_->worker().id(), route_, slot_).record(outcome_, status_, us, up_us);
}

void Exchange::log(int status) {
  observe::AccessLog& log = d_->worker().access_log();
  if (!log.enabled()) return;
  double dur = ms_since(start_ns_);
  const PoolRuntime& p = snap_->pools[pool_];
  observe::AccessRecord r{};
  r.start_unix_ms = observe::wall_ms() - static_cast<uint64_t>(dur);
  r.request_id = std::string_view(request_id_, request_id_len_);
  r.trace_id = std::string_view(trace_id_, 32);
  r.client_ip = d_->client_ip();
  r.method = llhttp_method_name(method_);
  r.path = s().path;
  r.status = status;
  r.bytes = bytes_out_;
  r.duration_ms = dur;
  r.route = snap_->routes[route_].name;
  r.pool = p.name;
  r.upstream = server_ < p.servers.size() ? std::string_view(p.servers[server_].text) : "";
  r.upstream_ms = up_ms_;
  log.append(r);
}

}  // namespace sluice
