#include "proxy/http/parser.h"

#include <cstring>

namespace sluice::http {

void MessageHead::clear() {
  method = HTTP_GET;
  status = 0;
  http_major = 1;
  http_minor = 1;
  url = {};
  reason = {};
  headers.clear();
  chunked = false;
  has_content_length = false;
  content_length = 0;
  keep_alive = true;
  upgrade = false;
  bad_header = false;
  bad_name = false;
  bad_status = false;
  bad_version = false;
  bare_line_end = false;
}

namespace {
Parser* self(llhttp_t* p) {
  return static_cast<Parser*>(p->data);
}

// True when `s` holds a CR, an LF or a NUL. Runs once per header value on
// every request and response, so it reads eight bytes at a time: a word with
// no byte below 0x20 (the usual case) is passed with four operations, and
// only a word that has one (a tab, say) is looked at byte by byte.
bool has_cr_lf_nul(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  auto bad_byte = [](unsigned char c) { return c == '\r' || c == '\n' || c == '\0'; };
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (((w - kOnes * 0x20) & ~w & kHighs) == 0) continue;  // no byte < 0x20
    for (int i = 0; i < 8; ++i) {
      if (bad_byte(static_cast<unsigned char>(p[i]))) return true;
    }
  }
  for (; n > 0; ++p, --n) {
    if (bad_byte(static_cast<unsigned char>(*p))) return true;
  }
  return false;
}
}  // namespace

const llhttp_settings_t* Parser::settings(Kind kind) {
  static const llhttp_settings_t request = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Parser::on_message_begin;
    s.on_url = &Parser::on_url;
    s.on_url_complete = &Parser::on_url_complete;
    s.on_header_field = &Parser::on_header_field;
    s.on_header_field_complete = &Parser::on_header_field_complete;
    s.on_header_value = &Parser::on_header_value;
    s.on_header_value_complete = &Parser::on_header_value_complete;
    s.on_headers_complete = &Parser::on_headers_complete;
    s.on_body = &Parser::on_body;
    s.on_message_complete = &Parser::on_message_complete;
    return s;
  }();
  static const llhttp_settings_t response = [] {
    llhttp_settings_t s = request;
    s.on_url = nullptr;
    s.on_url_complete = nullptr;
    s.on_status = &Parser::on_status;
    return s;
  }();
  return kind == Kind::Request ? &request : &response;
}

Parser::Parser(Kind kind) : kind_(kind) {
  llhttp_init(&llp_, kind == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE, settings(kind));
  llp_.data = this;
  // No reservation: the vector grows to the heads this connection sees and
  // keeps that capacity (a curl-like request needs 4 slots, not 32: memory
  // per idle keep-alive connection).
}

void Parser::reset() {
  llhttp_init(&llp_, kind_ == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE, settings(kind_));
  llp_.data = this;
  base_ = nullptr;
  head_.clear();
  body_ = nullptr;
  body_bytes_ = 0;
  error_ = HPE_OK;
  started_ = url_done_ = head_done_ = message_done_ = false;
  in_field_ = in_value_ = false;
  response_to_head_ = too_many_headers_ = upgraded_ = false;
}

void Parser::begin_message(const char* base) {
  base_ = base;
  head_.clear();
  body_bytes_ = 0;
  started_ = url_done_ = head_done_ = message_done_ = false;
  in_field_ = in_value_ = false;
  too_many_headers_ = false;
  if (error_ != HPE_OK && error_ != HPE_PAUSED) {
    // A parse error is final for the connection; callers never get here.
    return;
  }
}

void Parser::extend(Span& s, const char* at, size_t n) {
  if (s.len == 0) s.off = offset(at);
  s.len = static_cast<uint32_t>(offset(at) + n - s.off);
}

int Parser::on_message_begin(llhttp_t* p) {
  Parser* P = self(p);
  P->started_ = true;
  return 0;
}

int Parser::on_url(llhttp_t* p, const char* at, size_t n) {
  Parser* P = self(p);
  P->extend(P->head_.url, at, n);
  return 0;
}

int Parser::on_url_complete(llhttp_t* p) {
  self(p)->url_done_ = true;
  return 0;
}

int Parser::on_status(llhttp_t* p, const char* at, size_t n) {
  Parser* P = self(p);
  P->extend(P->head_.reason, at, n);
  return 0;
}

int Parser::on_header_field(llhttp_t* p, const char* at, size_t n) {
  Parser* P = self(p);
  if (P->head_done_) return 0;  // a trailer: never part of the head
  if (!P->in_field_) {
    if (P->head_.headers.size() >= P->max_headers_) {
      P->too_many_headers_ = true;
      return -1;
    }
    P->head_.headers.push_back({});
    P->in_field_ = true;
  }
  P->extend(P->head_.headers.back().name, at, n);
  return 0;
}

int Parser::on_header_field_complete(llhttp_t* p) {
  Parser* P = self(p);
  P->in_field_ = false;
  // llhttp takes ": value" (an empty name) as a header line; a field name is a
  // token of at least one character (RFC 9110 5.1), and an upstream handed an
  // empty name may read the line in another way.
  if (!P->head_done_ && (P->head_.headers.empty() || P->head_.headers.back().name.len == 0)) {
    P->head_.bad_name = true;
    return -1;
  }
  return 0;
}

int Parser::on_header_value(llhttp_t* p, const char* at, size_t n) {
  Parser* P = self(p);
  if (P->head_done_) return 0;
  P->in_value_ = true;
  P->extend(P->head_.headers.back().value, at, n);
  return 0;
}

int Parser::on_header_value_complete(llhttp_t* p) {
  Parser* P = self(p);
  P->in_value_ = false;
  if (P->head_done_ || P->head_.headers.empty()) return 0;
  // llhttp accepts obs-fold and hands it over inside the value span, or, after
  // an empty first line, as a value that starts on the next line. RFC 9112
  // lets a proxy refuse it, and request smuggling makes refusing the safe choice.
  const HeaderSpan& h = P->head_.headers.back();
  std::string_view v = h.value.view(P->base_);
  if (has_cr_lf_nul(v)) {
    P->head_.bad_header = true;
    return -1;
  }
  if (h.value.len != 0) {
    uint32_t gap_from = h.name.off + h.name.len;
    if (h.value.off > gap_from) {
      std::string_view gap(P->base_ + gap_from, h.value.off - gap_from);
      if (has_cr_lf_nul(gap)) {
        P->head_.bad_header = true;
        return -1;
      }
    }
  }
  return 0;
}

int Parser::on_headers_complete(llhttp_t* p) {
  Parser* P = self(p);
  MessageHead& h = P->head_;
  if (P->head_done_) return 0;  // the end of trailers
  h.http_major = p->http_major;
  h.http_minor = p->http_minor;
  h.method = static_cast<llhttp_method_t>(p->method);
  h.status = p->status_code;
  h.chunked = (p->flags & F_CHUNKED) != 0;
  h.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
  h.content_length = h.has_content_length ? p->content_length : 0;
  h.keep_alive = llhttp_should_keep_alive(p) != 0;
  h.upgrade = p->upgrade != 0;
  P->head_done_ = true;
  if (P->kind_ == Kind::Request) {
    if (h.http_major != 1 && h.http_major != 2) {
      P->head_.bad_version = true;  // HTTP/0.9 has no head at all: refuse, never guess
      return -1;
    }
    return HPE_PAUSED;
  }
  // A status code is three digits (RFC 9110 15); this llhttp takes
  // "HTTP/1.1 \r\n" as 0 and "HTTP/1.1 20 OK" as 20, which would reach the
  // client as an invalid status line.
  if (h.status < 100) {
    h.bad_status = true;
    return -1;
  }
  // Responses: the head is handled after execute() returns, with the body
  // slices of the same read. 1xx other than 101 are skipped by the caller.
  // HEAD responses, 204 and 304 have no body whatever Content-Length says.
  if (P->response_to_head_ || h.status == 204 || h.status == 304) return 1;
  return 0;
}

int Parser::on_body(llhttp_t* p, const char* at, size_t n) {
  Parser* P = self(p);
  P->body_bytes_ += n;
  if (P->body_ != nullptr) P->body_->push_back({at, n});
  return 0;
}

int Parser::on_message_complete(llhttp_t* p) {
  Parser* P = self(p);
  P->message_done_ = true;
  // Upgrade: let llhttp return HPE_PAUSED_UPGRADE itself.
  if (p->upgrade) return 0;
  return HPE_PAUSED;
}

Parser::Result Parser::execute(const char* p, size_t n, std::vector<Slice>* body) {
  body_ = body;
  llhttp_errno_t e = llhttp_execute(&llp_, p, n);
  body_ = nullptr;
  switch (e) {
    case HPE_OK:
      return {Event::NeedMore, n};
    case HPE_PAUSED: {
      size_t used = static_cast<size_t>(llhttp_get_error_pos(&llp_) - p);
      if (message_done_) return {Event::MessageComplete, used};
      if (kind_ == Kind::Request && !strict_line_ends(p + used)) {
        error_ = HPE_LF_EXPECTED;
        head_.bare_line_end = true;
        return {Event::Error, 0};
      }
      return {Event::HeadComplete, used};
    }
    case HPE_PAUSED_UPGRADE: {
      size_t used = static_cast<size_t>(llhttp_get_error_pos(&llp_) - p);
      upgraded_ = true;
      message_done_ = true;
      return {Event::MessageComplete, used};
    }
    default:
      error_ = e;
      return {Event::Error, 0};
  }
}

// llhttp takes a bare LF for CRLF at the end of the request line and of the
// head. A front end that reads line ends differently from the server behind
// it is how requests get smuggled: every LF in a request head must follow a
// CR, and every CR precede an LF.
bool Parser::strict_line_ends(const char* head_end) const {
  // Every LF follows a CR, and every CR precedes an LF: as many CRs as LFs,
  // each LF preceded by a CR. memchr hops from line end to line end.
  const char* end = head_end;
  size_t lfs = 0;
  for (const char* p = base_;
       (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)))) !=
       nullptr;
       ++p) {
    if (p == base_ || p[-1] != '\r') return false;
    ++lfs;
  }
  size_t crs = 0;
  for (const char* p = base_;
       (p = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)))) !=
       nullptr;
       ++p) {
    ++crs;
  }
  return crs == lfs;
}

bool Parser::finish() {
  if (!started_ || message_done_) return false;
  llhttp_errno_t e = llhttp_finish(&llp_);
  if (e != HPE_OK && e != HPE_PAUSED) error_ = e;
  return message_done_;
}

void Parser::resume() {
  if (upgraded_) return;
  if (llhttp_get_errno(&llp_) == HPE_PAUSED) llhttp_resume(&llp_);
}

bool Parser::needs_eof() const {
  return llhttp_message_needs_eof(&llp_) != 0;
}

const char* Parser::error_reason() const {
  if (head_.bad_header) return "invalid header value (obs-fold, CR, LF or NUL)";
  if (head_.bad_name) return "empty header name";
  if (head_.bad_status) return "invalid status code";
  if (head_.bad_version) return "unsupported HTTP version";
  if (head_.bare_line_end) return "bare CR or LF in the request head";
  if (too_many_headers_) return "too many header lines";
  const char* r = llhttp_get_error_reason(&llp_);
  return r != nullptr ? r : llhttp_errno_name(error_);
}

}  // namespace sluice::http
