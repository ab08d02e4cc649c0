// ResponseReader: llhttp behind the load generator's one narrow interface.
//
// It reads a stream of HTTP/1.1 responses and keeps only what the bench
// reports: the status, whether the connection may be reused, the body size,
// and the value of one named response header (the pool header). Bytes are
// consumed as they are fed and never retained, so the caller may reuse its read
// buffer as soon as feed() returns; the header value is copied into a small
// fixed array (kMaxValue bytes, longer values are cut). No allocation per
// response.
//
// The proxy's http::Parser keeps each head in place for forwarding; here
// nothing is forwarded, so a streaming reader with no head buffer fits better.
//
// Framing: Content-Length, chunked, and close-delimited bodies (finish_eof()
// completes those). 1xx interim responses are skipped. A response to HEAD has
// no body whatever its headers say (set_head_request()).
//
// Thread affinity: one reader per connection, on that connection's thread.
#pragma once

#include <llhttp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::bench {

class ResponseReader {
 public:
  static constexpr size_t kMaxValue = 64;

  enum class Event : uint8_t {
    NeedMore,  // all bytes consumed, no response completed
    Complete,  // a response completed after `consumed` bytes; call next() before feeding more
    Error,     // malformed response; the connection is unusable
  };
  struct Result {
    Event event;
    size_t consumed;
  };

  // `header_name` (matched case-insensitively) must outlive the reader.
  explicit ResponseReader(std::string_view header_name);
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Starts over for a new connection.
  void reset();
  void set_head_request(bool head) { head_request_ = head; }

  Result feed(const char* data, size_t n);
  // The peer closed: true when that completed a close-delimited response.
  bool finish_eof();
  // After Complete: get ready for the next response on the same connection.
  void next();

  // Valid after Complete.
  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  uint64_t body_bytes() const { return body_bytes_; }
  // Whether the named header was present, and its first value (cut at kMaxValue).
  bool has_header() const { return header_found_; }
  std::string_view header_value() const { return {value_.data(), value_len_}; }
  // True when a response started and has not completed (a close now is an error).
  bool in_message() const { return in_message_; }
  const char* error_reason() const;

 private:
  static int on_message_begin(llhttp_t*);
  static int on_header_field(llhttp_t*, const char*, size_t);
  static int on_header_field_complete(llhttp_t*);
  static int on_header_value(llhttp_t*, const char*, size_t);
  static int on_header_value_complete(llhttp_t*);
  static int on_headers_complete(llhttp_t*);
  static int on_body(llhttp_t*, const char*, size_t);
  static int on_message_complete(llhttp_t*);
  static const llhttp_settings_t* settings();
  void clear_message();

  llhttp_t parser_{};
  std::string_view header_name_;
  // Matching the header name as it streams in: how many bytes matched so far,
  // and whether the field still can match.
  size_t name_matched_ = 0;
  bool name_may_match_ = true;
  bool in_value_of_interest_ = false;
  bool header_found_ = false;
  std::array<char, kMaxValue> value_{};
  size_t value_len_ = 0;

  int status_ = 0;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool in_message_ = false;
  bool complete_ = false;
  uint64_t body_bytes_ = 0;
};

}  // namespace sluice::bench
