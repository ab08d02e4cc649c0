// Admin server: listeners, one Conn per peer, llhttp framing, routing.
//
// Conn lifecycle:
//
//   accept ──> Reading ──(message complete)──> dispatch ──> respond ──┐
//                 ^                                                   │
//                 └──────────────── keep-alive ───────────────────────┘
//   respond(close) ──> Draining (writes in flight) ──> Lingering ──> Closed
//                      (shutdown sent, input discarded until EOF or 2 s)
//   timeout / read error / AdminServer::close() ──> Closed
//
// Lingering before the close keeps a TCP peer that is still sending (an
// oversized body, a pipelined request) from receiving a reset that would
// destroy the error response before it reads it.
//
// Ownership: the AdminServer lists its open Conns; a Conn that starts closing
// leaves the list at once and frees itself in the close callback of the
// last of its two handles (stream and timer). Nothing is deleted inside its
// own callback and nothing touches the AdminServer after it has begun to close.
#include "proxy/admin/server.h"

#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

#include "proxy/admin/json.h"
#include "proxy/admin/listener.h"
#include "proxy/admin/request.h"
#include "proxy/admin/status_assets.h"
#include "proxy/http/text.h"

namespace sluice::admin {

namespace {

using http::iequals;
using http::reason_phrase;

constexpr uint64_t kLingerMs = 2000;
constexpr size_t kLingerMaxDiscard = 1 << 20;

// On every response (the [headers] defaults; no HSTS on plain HTTP). The
// status page works under this CSP: its script and style are same-origin
// files, nothing inline.
constexpr std::string_view kSecurityHeaders =
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'self'\r\n";

// The status page's files (status_page.*, embedded at build time).
struct Asset {
  std::string_view name;  // the path without its leading '/'
  std::string_view content_type;
  std::string_view body;
};
constexpr Asset kAssets[] = {
    {"", "text/html; charset=utf-8", assets::kStatusPageHtml},
    {"status.js", "text/javascript; charset=utf-8", assets::kStatusPageJs},
    {"status.css", "text/css; charset=utf-8", assets::kStatusPageCss},
};

}  // namespace

// ---------------------------------------------------------------- connection

struct AdminServer::Conn {
  enum class State : uint8_t { Reading, Draining, Lingering, Closed };

  AdminServer* server;  // null once closing began
  bool is_unix;
  State state = State::Reading;
  union {
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } io;
  uv_timer_t timer;
  uv_shutdown_t shutdown_req;
  int open_handles = 0;
  size_t pending_writes = 0;
  bool reading = false;
  bool blocked = false;  // reading paused: the peer does not read its responses
  size_t discarded = 0;  // bytes thrown away while lingering

  // Peer.
  Caller caller;
  bool allowed = true;
  std::string deny_reason;

  // HTTP.
  llhttp_t parser;
  std::string in;        // received, not yet parsed
  size_t msg_bytes = 0;  // bytes of the current message seen so far
  bool in_message = false;
  std::string url;
  std::string field;
  std::string value;
  bool expect_continue = false;
  bool upgrade = false;
  bool keep_alive = true;
  std::string body;
  int early_status = 0;  // set by a callback that stops the parser
  std::string early_error;

  Conn(AdminServer* s, bool unix_peer) : server(s), is_unix(unix_peer) {}

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&io); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&io); }
  const ServerOptions& opt() const { return server->opt_; }

  static const llhttp_settings_t* settings();
  static Conn* of(llhttp_t* p) { return static_cast<Conn*>(p->data); }

  // ---- lifecycle

  void start() {
    llhttp_init(&parser, HTTP_REQUEST, settings());
    parser.data = this;
    arm_timer(opt().request_timeout_ms);
    start_reading();
  }

  void start_reading() {
    if (reading || state == State::Closed) return;
    if (uv_read_start(stream(), &Conn::on_alloc, &Conn::on_read) == 0) reading = true;
  }

  void stop_reading() {
    if (!reading) return;
    uv_read_stop(stream());
    reading = false;
  }

  void arm_timer(uint64_t ms) { uv_timer_start(&timer, &Conn::on_timer, ms, 0); }

  // Immediate close; safe from any callback of this Conn.
  void close() {
    if (state == State::Closed) return;
    state = State::Closed;
    if (server != nullptr) server->forget(this);
    server = nullptr;
    stop_reading();
    uv_timer_stop(&timer);
    uv_close(handle(), &Conn::on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), &Conn::on_closed);
  }

  static void on_closed(uv_handle_t* h) {
    Conn* c = static_cast<Conn*>(h->data);
    if (--c->open_handles == 0) delete c;
  }

  // After the last response of a closing connection is written: send FIN,
  // discard input until EOF, then close.
  void linger() {
    state = State::Lingering;
    blocked = false;
    in.clear();
    if (uv_shutdown(&shutdown_req, stream(), &Conn::on_shutdown) != 0) {
      close();
      return;
    }
    arm_timer(kLingerMs);
    start_reading();
  }

  static void on_shutdown(uv_shutdown_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->data);
    if (status < 0 && c->state != State::Closed) c->close();
  }

  static void on_timer(uv_timer_t* t) {
    Conn* c = static_cast<Conn*>(t->data);
    if (c->state == State::Reading && c->in_message && c->pending_writes == 0) {
      c->respond_error(408,
                       "request not complete within " +
                           std::to_string(c->opt().request_timeout_ms / 1000) + " s",
                       true);
      return;
    }
    // Idle keep-alive, a peer that does not read, or the end of lingering.
    c->close();
  }

  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    // The read callback copies out at once, so one buffer per thread serves all.
    static thread_local char storage[64 * 1024];
    *buf = uv_buf_init(storage, sizeof storage);
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(s->data);
    if (nread == 0) return;
    if (nread < 0) {
      // EOF or error. A half-closed peer still gets its pending responses.
      if (c->state == State::Reading && c->pending_writes > 0 && nread == UV_EOF) {
        c->stop_reading();
        c->state = State::Draining;
        return;
      }
      c->close();
      return;
    }
    if (c->state == State::Lingering) {
      c->discarded += static_cast<size_t>(nread);
      if (c->discarded > kLingerMaxDiscard) c->close();
      return;
    }
    if (c->state != State::Reading) return;
    c->in.append(buf->base, static_cast<size_t>(nread));
    c->process();
  }

  // ---- writing

  struct WriteReq {
    uv_write_t req;
    std::string data;
  };

  void write(std::string data) {
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->req.data = this;
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream(), &b, 1, &Conn::on_written) != 0) {
      delete w;  // the callback never runs when the call fails at once
      close();
      return;
    }
    ++pending_writes;
  }

  static void on_written(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    Conn* c = static_cast<Conn*>(req->data);
    delete w;
    --c->pending_writes;
    if (c->state == State::Closed) return;
    if (status < 0) {
      c->close();
      return;
    }
    if (c->pending_writes > 0) return;
    if (c->state == State::Draining) {
      c->linger();
      return;
    }
    if (c->blocked) {
      c->blocked = false;
      c->start_reading();
      c->process();
    }
  }

  void respond(int status, std::string_view content_type, std::string_view payload,
               bool close_after, std::string_view allow = {}, bool head_only = false) {
    if (state != State::Reading) return;
    std::string out;
    out.reserve(200 + (head_only ? 0 : payload.size()));
    out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
    out.append(reason_phrase(status)).append("\r\n");
    out.append("Content-Type: ").append(content_type).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(payload.size())).append("\r\n");
    out.append(kSecurityHeaders);
    if (!allow.empty()) out.append("Allow: ").append(allow).append("\r\n");
    out.append(close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    out.append("\r\n");
    if (!head_only) out.append(payload);
    write(std::move(out));
    if (state == State::Closed) return;
    if (close_after) {
      state = State::Draining;
      stop_reading();
      in.clear();
      return;
    }
    if (uv_stream_get_write_queue_size(stream()) > opt().max_pending_write_bytes) {
      blocked = true;
      stop_reading();
    }
  }

  void respond_error(int status, std::string_view message, bool close_after,
                     std::string_view allow = {}) {
    respond(status, "application/json", error_body(message), close_after, allow);
  }

  // ---- parsing

  void reset_message() {
    msg_bytes = 0;
    in_message = false;
    url.clear();
    field.clear();
    value.clear();
    expect_continue = false;
    upgrade = false;
    keep_alive = true;
    body.clear();
    early_status = 0;
    early_error.clear();
  }

  void process() {
    size_t off = 0;
    while (state == State::Reading && !blocked && off < in.size()) {
      const char* p = in.data() + off;
      const size_t n = in.size() - off;
      const llhttp_errno_t e = llhttp_execute(&parser, p, n);
      if (e == HPE_OK) {
        off += n;
        msg_bytes += n;
        if (in_message && msg_bytes > opt().max_request_bytes) too_large();
        break;
      }
      if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        const size_t used = static_cast<size_t>(llhttp_get_error_pos(&parser) - p);
        off += used;
        msg_bytes += used;
        if (msg_bytes > opt().max_request_bytes) {
          too_large();
          break;
        }
        if (e == HPE_PAUSED && !upgrade) {
          llhttp_resume(&parser);
        } else {
          keep_alive = false;  // no protocol switch here: answer, then close
        }
        handle_request();
        // The ControlApi may have closed or destroyed the AdminServer.
        if (state != State::Reading) break;
        reset_message();
        arm_timer(opt().request_timeout_ms);
        continue;
      }
      if (early_status != 0) {
        respond_error(early_status, early_error, true);
      } else {
        const char* why = llhttp_get_error_reason(&parser);
        respond_error(400,
                      std::string("malformed request: ") +
                          (why != nullptr && *why != '\0' ? why : llhttp_errno_name(e)),
                      true);
      }
      break;
    }
    if (state == State::Reading) {
      in.erase(0, off);
    } else {
      in.clear();
    }
  }

  void too_large() {
    respond_error(
        413,
        "request larger than " + std::to_string(opt().max_request_bytes) + " bytes (head and body)",
        true);
  }

  int stop_parser(int status, std::string message) {
    early_status = status;
    early_error = std::move(message);
    return -1;
  }

  static int on_message_begin(llhttp_t* p) {
    Conn* c = of(p);
    c->in_message = true;
    // The request timeout runs from the first byte of each request.
    c->arm_timer(c->opt().request_timeout_ms);
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, size_t n) {
    of(p)->url.append(at, n);
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t n) {
    of(p)->field.append(at, n);
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, size_t n) {
    of(p)->value.append(at, n);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    Conn* c = of(p);
    if (iequals(c->field, "expect") && iequals(c->value, "100-continue")) {
      c->expect_continue = true;
    }
    c->field.clear();
    c->value.clear();
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    Conn* c = of(p);
    if (!c->allowed) return c->stop_parser(403, c->deny_reason);
    if ((p->flags & F_CHUNKED) != 0) {
      return c->stop_parser(411, "chunked request bodies are not supported: send Content-Length");
    }
    const size_t limit = c->opt().max_request_bytes;
    if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > limit) {
      return c->stop_parser(413, "request body of " + std::to_string(p->content_length) +
                                     " bytes is larger than the limit of " + std::to_string(limit) +
                                     " bytes");
    }
    c->upgrade = p->upgrade != 0;
    if (c->expect_continue && (p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0 &&
        p->http_major == 1 && p->http_minor >= 1) {
      c->write("HTTP/1.1 100 Continue\r\n\r\n");
      if (c->state == State::Closed) return -1;
    }
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, size_t n) {
    of(p)->body.append(at, n);
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    Conn* c = of(p);
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    return HPE_PAUSED;
  }

  // ---- routing

  void handle_request();
  void dispatch(llhttp_method_t method, std::string_view path, std::string_view query);
};

const llhttp_settings_t* AdminServer::Conn::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = &Conn::on_message_begin;
    v.on_url = &Conn::on_url;
    v.on_header_field = &Conn::on_header_field;
    v.on_header_value = &Conn::on_header_value;
    v.on_header_value_complete = &Conn::on_header_value_complete;
    v.on_headers_complete = &Conn::on_headers_complete;
    v.on_body = &Conn::on_body;
    v.on_message_complete = &Conn::on_message_complete;
    return v;
  }();
  return &s;
}

void AdminServer::Conn::handle_request() {
  const auto method = static_cast<llhttp_method_t>(parser.method);
  std::string_view target = url;
  // Absolute form (http://sluice/v1/status): keep the path.
  if (target.size() > 0 && target[0] != '/') {
    const size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) {
      respond_error(400, "invalid request target", !keep_alive);
      return;
    }
    const size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  try {
    dispatch(method, path, query);
  } catch (const std::exception& e) {
    if (state == State::Reading) {
      respond_error(500, std::string("internal error: ") + e.what(), !keep_alive);
    }
  } catch (...) {
    if (state == State::Reading) respond_error(500, "internal error", !keep_alive);
  }
}

void AdminServer::Conn::dispatch(llhttp_method_t method, std::string_view raw_path,
                                 std::string_view query) {
  const bool close_after = !keep_alive;
  const bool is_get = method == HTTP_GET || method == HTTP_HEAD;
  const bool head_only = method == HTTP_HEAD;

  // Split and decode the path segments (decoding after splitting keeps an
  // encoded '/' inside a route name).
  std::vector<std::string> seg;
  {
    std::string_view rest = raw_path.substr(1);
    std::string decoded;
    for (;;) {
      const size_t slash = rest.find('/');
      if (!url_decode(rest.substr(0, slash), false, &decoded)) {
        respond_error(400, "invalid percent-encoding in the request path", close_after);
        return;
      }
      seg.push_back(decoded);
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }
  const auto is = [&](std::initializer_list<std::string_view> want) {
    if (seg.size() != want.size()) return false;
    size_t i = 0;
    for (std::string_view w : want) {
      if (!w.empty() && seg[i] != w) return false;
      ++i;
    }
    return true;
  };
  const std::string shown_path(raw_path);
  const auto wrong_method = [&](std::string_view allow) {
    respond_error(405,
                  "method " + std::string(method_name(method)) + " is not allowed on " +
                      shown_path + "; use " + std::string(allow),
                  close_after, allow);
  };
  const auto not_found = [&] {
    respond_error(404, "no such endpoint: " + shown_path, close_after);
  };
  ControlApi& api = server->api_;
  // GET or HEAD of what a read-only ControlApi call answers.
  const auto serve = [&](Reply (ControlApi::*call)()) {
    if (!is_get) return wrong_method("GET, HEAD");
    Reply r = (api.*call)();
    if (state != State::Reading) return;
    respond(r.status, r.content_type, r.body, close_after, {}, head_only);
  };

  // Read-only endpoints, on both listeners.
  if (seg.size() == 1) {
    for (const Asset& a : kAssets) {
      if (seg[0] != a.name) continue;
      if (!is_get) return wrong_method("GET, HEAD");
      respond(200, a.content_type, a.body, close_after, {}, head_only);
      return;
    }
  }
  if (is({"status.json"})) return serve(&ControlApi::status_page_data);
  if (is({"metrics"})) return serve(&ControlApi::metrics);
  if (is({"health", "live"}) || is({"health", "ready"})) {
    if (!is_get) return wrong_method("GET, HEAD");
    const bool ok = seg[1] == "live" ? api.live() : api.ready();
    if (state != State::Reading) return;
    respond(ok ? 200 : 503, "application/json",
            ok ? "{\"status\":\"ok\"}\n" : "{\"status\":\"unavailable\"}\n", close_after, {},
            head_only);
    return;
  }
  if (!is_unix) return not_found();  // the metrics listener is read-only

  if (is({"v1", "status"})) return serve(&ControlApi::status);
  const bool split = is({"v1", "routes", "", "split"});
  const bool rollback = is({"v1", "routes", "", "rollback"});
  const bool reload = is({"v1", "reload"});
  if (!split && !rollback && !reload) return not_found();
  if ((split || rollback) && seg[2].empty()) return not_found();
  if (split && method != HTTP_PUT) return wrong_method("PUT");
  if ((rollback || reload) && method != HTTP_POST) return wrong_method("POST");

  const std::string_view action = split ? "split" : rollback ? "rollback" : "reload";
  const std::string_view route = (split || rollback) ? std::string_view(seg[2]) : "";
  MutatingQuery mq;
  std::string error;
  if (!parse_mutating_query(query, rollback, &mq, &error)) {
    api.refused(action, route, caller, 400, error);  // refused calls are audited too
    if (state != State::Reading) return;
    respond_error(400, error, close_after);
    return;
  }
  const Caller who = caller;
  Reply r;
  if (split) {
    std::vector<std::pair<std::string, uint64_t>> weights;
    if (!parse_split_body(body, opt().max_request_bytes, &weights, &error)) {
      api.refused(action, route, who, 400, error);
      if (state != State::Reading) return;
      respond_error(400, error, close_after);
      return;
    }
    r = api.set_split(seg[2], weights, mq.dry_run, who);
  } else if (rollback) {
    std::optional<std::string_view> pool;
    if (mq.pool) pool = *mq.pool;
    r = api.rollback(seg[2], pool, mq.dry_run, who);
  } else {
    r = api.reload(mq.dry_run, who);
  }
  if (state != State::Reading) return;
  if (r.status < 100 || r.status > 599) r.status = 500;
  respond(r.status, r.content_type, r.body, close_after);
}

// ---------------------------------------------------------------- server

AdminServer::AdminServer(uv_loop_t* loop, ControlApi& api, ServerOptions options)
    : loop_(loop), api_(api), opt_(options) {}

AdminServer::~AdminServer() {
  close();
}

void AdminServer::close() {
  if (unix_ != nullptr) {
    unix_->close();
    unix_ = nullptr;
    // Unlink only our own socket file: a successor may already have replaced it.
    struct stat st;
    if (::lstat(unix_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == unix_dev_ &&
        st.st_ino == unix_ino_) {
      ::unlink(unix_path_.c_str());
    }
    unix_path_.clear();
  }
  if (tcp_ != nullptr) {
    tcp_->close();
    tcp_ = nullptr;
    tcp_port_ = 0;
  }
  std::vector<Conn*> conns = std::move(conns_);
  conns_.clear();
  for (Conn* c : conns) {
    c->server = nullptr;  // already forgotten
    c->close();
  }
}

bool AdminServer::uid_allowed(uint32_t uid) const {
  if (uid == static_cast<uint32_t>(::getuid())) return true;
  return std::find(allow_uids_.begin(), allow_uids_.end(), uid) != allow_uids_.end();
}

void AdminServer::forget(Conn* c) {
  auto it = std::find(conns_.begin(), conns_.end(), c);
  if (it != conns_.end()) conns_.erase(it);
}

void AdminServer::on_unix_connection(uv_stream_t* s, int status) {
  auto* l = static_cast<Listener*>(s->data);
  if (status < 0 || l->server == nullptr) return;  // EMFILE etc.: libuv retries
  l->server->accept(l);
}

void AdminServer::on_tcp_connection(uv_stream_t* s, int status) {
  auto* l = static_cast<Listener*>(s->data);
  if (status < 0 || l->server == nullptr) return;
  l->server->accept(l);
}

void AdminServer::accept(Listener* l) {
  auto* c = new Conn(this, l->is_unix);
  uv_timer_init(loop_, &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  if (l->is_unix) {
    uv_pipe_init(loop_, &c->io.pipe, 0);
  } else {
    uv_tcp_init(loop_, &c->io.tcp);
  }
  c->handle()->data = c;
  c->shutdown_req.data = c;
  conns_.push_back(c);
  if (uv_accept(l->stream(), c->stream()) != 0) {
    c->close();
    return;
  }
  if (l->is_unix) {
    uv_os_fd_t fd;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (uv_fileno(c->handle(), &fd) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      c->allowed = false;
      c->deny_reason = "cannot read the peer's credentials";
    } else {
      c->caller.uid = cred.uid;
      c->caller.gid = cred.gid;
      c->caller.pid = cred.pid;
      if (!uid_allowed(cred.uid)) {
        c->allowed = false;
        c->deny_reason = "uid " + std::to_string(cred.uid) + " is not allowed";
      }
    }
  } else {
    uv_tcp_nodelay(&c->io.tcp, 1);
  }
  c->start();
  if (conns_.size() > opt_.max_connections) {
    c->respond_error(503, "too many admin connections", true);
  }
}

}  // namespace sluice::admin
