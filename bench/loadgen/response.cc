#include "bench/loadgen/response.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sluice::bench {

namespace {

ResponseReader* self(llhttp_t* p) {
  return static_cast<ResponseReader*>(p->data);
}

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

const llhttp_settings_t* ResponseReader::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = &ResponseReader::on_message_begin;
    v.on_header_field = &ResponseReader::on_header_field;
    v.on_header_field_complete = &ResponseReader::on_header_field_complete;
    v.on_header_value = &ResponseReader::on_header_value;
    v.on_header_value_complete = &ResponseReader::on_header_value_complete;
    v.on_headers_complete = &ResponseReader::on_headers_complete;
    v.on_body = &ResponseReader::on_body;
    v.on_message_complete = &ResponseReader::on_message_complete;
    return v;
  }();
  return &s;
}

ResponseReader::ResponseReader(std::string_view header_name) : header_name_(header_name) {
  reset();
}

void ResponseReader::reset() {
  llhttp_init(&parser_, HTTP_RESPONSE, settings());
  parser_.data = this;
  clear_message();
}

void ResponseReader::clear_message() {
  name_matched_ = 0;
  name_may_match_ = true;
  in_value_of_interest_ = false;
  header_found_ = false;
  value_len_ = 0;
  status_ = 0;
  keep_alive_ = true;
  in_message_ = false;
  complete_ = false;
  body_bytes_ = 0;
}

int ResponseReader::on_message_begin(llhttp_t* p) {
  ResponseReader* r = self(p);
  r->clear_message();
  r->in_message_ = true;
  return 0;
}

// The field name may arrive in several pieces; compare each piece against the
// matching part of the wanted name.
int ResponseReader::on_header_field(llhttp_t* p, const char* at, size_t n) {
  ResponseReader* r = self(p);
  if (!r->name_may_match_) return 0;
  const std::string_view want = r->header_name_;
  if (r->name_matched_ + n > want.size()) {
    r->name_may_match_ = false;
    return 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (lower(at[i]) != lower(want[r->name_matched_ + i])) {
      r->name_may_match_ = false;
      return 0;
    }
  }
  r->name_matched_ += n;
  return 0;
}

int ResponseReader::on_header_field_complete(llhttp_t* p) {
  ResponseReader* r = self(p);
  // Only the first occurrence counts: a repeated pool header is a server bug.
  r->in_value_of_interest_ =
      r->name_may_match_ && r->name_matched_ == r->header_name_.size() && !r->header_found_;
  if (r->in_value_of_interest_) r->header_found_ = true;
  return 0;
}

int ResponseReader::on_header_value(llhttp_t* p, const char* at, size_t n) {
  ResponseReader* r = self(p);
  if (!r->in_value_of_interest_) return 0;
  size_t take = std::min(n, kMaxValue - r->value_len_);
  std::memcpy(r->value_.data() + r->value_len_, at, take);
  r->value_len_ += take;
  return 0;
}

int ResponseReader::on_header_value_complete(llhttp_t* p) {
  ResponseReader* r = self(p);
  r->in_value_of_interest_ = false;
  r->name_matched_ = 0;
  r->name_may_match_ = true;
  return 0;
}

int ResponseReader::on_headers_complete(llhttp_t* p) {
  ResponseReader* r = self(p);
  r->status_ = p->status_code;
  r->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  // 1 = "no body follows": a response to HEAD carries none whatever it declares.
  // (llhttp knows 1xx, 204 and 304 itself.)
  return r->head_request_ ? 1 : 0;
}

int ResponseReader::on_body(llhttp_t* p, const char*, size_t n) {
  self(p)->body_bytes_ += n;
  return 0;
}

int ResponseReader::on_message_complete(llhttp_t* p) {
  ResponseReader* r = self(p);
  if (r->status_ >= 100 && r->status_ < 200 && r->status_ != 101) {
    // An interim response (100 Continue, 103 Early Hints): the final one follows.
    r->clear_message();
    return 0;
  }
  r->in_message_ = false;
  r->complete_ = true;
  // Keep-alive may have changed with the last header; llhttp knows now.
  r->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;  // hand the response to the caller before the next one starts
}

ResponseReader::Result ResponseReader::feed(const char* data, size_t n) {
  llhttp_errno_t e = llhttp_execute(&parser_, data, n);
  if (e == HPE_OK) return {Event::NeedMore, n};
  if (e == HPE_PAUSED && complete_)
    return {Event::Complete, static_cast<size_t>(llhttp_get_error_pos(&parser_) - data)};
  return {Event::Error, 0};
}

bool ResponseReader::finish_eof() {
  if (!in_message_) return false;
  llhttp_finish(&parser_);
  return complete_;
}

void ResponseReader::next() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
  clear_message();
}

const char* ResponseReader::error_reason() const {
  const char* r = llhttp_get_error_reason(&parser_);
  return r != nullptr ? r : llhttp_errno_name(llhttp_get_errno(&parser_));
}

}  // namespace sluice::bench
