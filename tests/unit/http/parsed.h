// Test helper: a head parsed by the real Parser, its spans pointing into a
// copy of the raw bytes the helper owns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "proxy/http/parser.h"

namespace sluice::http {

class Parsed {
 public:
  Parsed(Parser::Kind kind, std::string raw) : raw_(std::move(raw)), p_(kind) {
    std::vector<Slice> body;
    p_.begin_message(raw_.data());
    event_ = p_.execute(raw_.data(), raw_.size(), &body).event;
    ok_ = event_ != Parser::Event::Error && p_.head_done();
  }
  bool ok() const { return ok_; }
  Parser::Event event() const { return event_; }
  const MessageHead& head() const { return p_.head(); }
  const char* base() const { return p_.base(); }
  const char* error() const { return p_.error_reason(); }

 private:
  std::string raw_;
  Parser p_;
  Parser::Event event_ = Parser::Event::NeedMore;
  bool ok_ = false;
};

}  // namespace sluice::http
