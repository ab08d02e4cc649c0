// llhttp behind one narrow interface.
//
// A Parser turns bytes into a MessageHead (spans into the caller's buffer) and
// body slices (pointers into the bytes just fed). It never copies and never
// allocates per message once its header vector has grown.
//
// Span offsets are relative to a base pointer the caller sets with
// begin_message(); the caller keeps the head bytes in place (it may move the
// whole block, base included) until it is done with the head.
//
// Thread affinity: one Parser belongs to one connection on one worker thread.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::http {

struct Span {
  uint32_t off = 0;
  uint32_t len = 0;
  std::string_view view(const char* base) const { return {base + off, len}; }
};

struct HeaderSpan {
  Span name;
  Span value;
};

struct Slice {
  const char* data;
  size_t len;
};

struct MessageHead {
  llhttp_method_t method = HTTP_GET;  // requests
  int status = 0;                     // responses
  uint8_t http_major = 1;
  uint8_t http_minor = 1;
  Span url;     // requests
  Span reason;  // responses
  std::vector<HeaderSpan> headers;
  bool chunked = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool keep_alive = true;  // llhttp_should_keep_alive at head end
  bool upgrade = false;
  bool bad_header = false;     // obs-fold, CR/LF inside a value: refused by the caller
  bool bad_name = false;       // ": value", a header line with an empty name
  bool bad_status = false;     // response status code under 100 (not three digits)
  bool bad_version = false;    // HTTP/0.9 request line
  bool bare_line_end = false;  // LF without CR (or CR without LF) in a request head

  void clear();
};

class Parser {
 public:
  enum class Kind : uint8_t { Request, Response };
  enum class Event : uint8_t {
    NeedMore,         // everything consumed; body slices may have been appended
    HeadComplete,     // request only: paused right after the head
    MessageComplete,  // paused right after the message (upgrade: see head().upgrade)
    Error,
  };
  struct Result {
    Event event;
    size_t consumed;
  };

  explicit Parser(Kind kind);
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Starts a new message whose first byte is at `base`. Resets the head.
  void begin_message(const char* base);
  // Back to a new connection's state (a pooled parser taken by another
  // connection); the head's capacity is kept.
  void reset();
  // Frees the head's header list (its spans point at bytes long gone): for
  // a parser whose connection became a tunnel.
  void release_headers() { std::vector<HeaderSpan>().swap(head_.headers); }
  // The block holding the current head moved (caller compacted its buffer).
  void rebase(const char* base) { base_ = base; }
  const char* base() const { return base_; }

  // Responses to HEAD requests have no body whatever their headers say.
  void set_response_to_head(bool v) { response_to_head_ = v; }
  // Limit on the number of header lines (over it: Error with too_many_headers()).
  void set_max_headers(size_t n) { max_headers_ = n; }

  // Feed bytes. Body slices are appended to *body (may be null when no body
  // can follow, e.g. while only a head is expected).
  Result execute(const char* p, size_t n, std::vector<Slice>* body);
  // EOF from the peer: completes a close-delimited message. True if a message
  // completed by it.
  bool finish();

  // Continue after HeadComplete / MessageComplete.
  void resume();
  // After an upgrade message the parser is done for good.

  const MessageHead& head() const { return head_; }
  bool head_done() const { return head_done_; }
  bool message_done() const { return message_done_; }
  bool in_head() const { return started_ && !head_done_; }
  bool url_done() const { return url_done_; }
  bool started() const { return started_; }
  bool needs_eof() const;  // close-delimited message body
  uint64_t body_bytes() const { return body_bytes_; }
  bool too_many_headers() const { return too_many_headers_; }
  const char* error_reason() const;
  llhttp_errno_t error() const { return error_; }

 private:
  static int on_message_begin(llhttp_t*);
  static int on_url(llhttp_t*, const char*, size_t);
  static int on_url_complete(llhttp_t*);
  static int on_status(llhttp_t*, const char*, size_t);
  static int on_header_field(llhttp_t*, const char*, size_t);
  static int on_header_field_complete(llhttp_t*);
  static int on_header_value(llhttp_t*, const char*, size_t);
  static int on_header_value_complete(llhttp_t*);
  static int on_headers_complete(llhttp_t*);
  static int on_body(llhttp_t*, const char*, size_t);
  static int on_message_complete(llhttp_t*);
  static const llhttp_settings_t* settings(Kind);

  uint32_t offset(const char* at) const { return static_cast<uint32_t>(at - base_); }
  void extend(Span& s, const char* at, size_t n);
  bool strict_line_ends(const char* head_end) const;

  llhttp_t llp_{};
  Kind kind_;
  const char* base_ = nullptr;
  MessageHead head_;
  std::vector<Slice>* body_ = nullptr;
  uint64_t body_bytes_ = 0;
  size_t max_headers_ = 100;
  llhttp_errno_t error_ = HPE_OK;
  bool started_ = false;
  bool url_done_ = false;
  bool head_done_ = false;
  bool message_done_ = false;
  bool in_field_ = false;
  bool in_value_ = false;
  bool response_to_head_ = false;
  bool too_many_headers_ = false;
  bool upgraded_ = false;
};

}  // namespace sluice::http
