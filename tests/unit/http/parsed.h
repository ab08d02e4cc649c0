// Test helpers around the real Parser: Parsed (a head parsed from a copy of
// the raw bytes it owns, spans pointing into it), the views of a parsed head,
// and run_request (a request driven the way the connection code drives it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/parser.h"

namespace sluice::http {

// One execute() over all of `raw`, from a fresh message start.
inline Parser::Result execute_all(Parser& p, const std::string& raw, std::vector<Slice>* body) {
  p.begin_message(raw.data());
  return p.execute(raw.data(), raw.size(), body);
}

class Parsed {
 public:
  Parsed(Parser::Kind kind, std::string raw) : raw_(std::move(raw)), p_(kind) {
    std::vector<Slice> body;
    event_ = execute_all(p_, raw_, &body).event;
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

inline std::string joined(const std::vector<Slice>& slices) {
  std::string out;
  for (const Slice& s : slices) out.append(s.data, s.len);
  return out;
}

inline std::string_view hname(const Parser& p, size_t i) {
  return p.head().headers[i].name.view(p.base());
}
inline std::string_view hvalue(const Parser& p, size_t i) {
  return p.head().headers[i].value.view(p.base());
}
inline std::string_view url(const Parser& p) {
  return p.head().url.view(p.base());
}
inline std::string_view reason(const Parser& p) {
  return p.head().reason.view(p.base());
}

inline const char* event_name(Parser::Event e) {
  switch (e) {
    case Parser::Event::NeedMore:
      return "NeedMore";
    case Parser::Event::HeadComplete:
      return "HeadComplete";
    case Parser::Event::MessageComplete:
      return "MessageComplete";
    case Parser::Event::Error:
      return "Error";
  }
  return "?";
}

// What one request did, driven the way Downstream/Exchange drive the parser:
// execute, resume after each pause, stop at the first MessageComplete or Error.
struct RequestRun {
  std::vector<Parser::Event> events;  // every non-NeedMore event, in order
  size_t consumed = 0;                // bytes consumed up to the stop
  std::string body;
  std::string trace() const {
    std::string s;
    for (Parser::Event e : events) s.append(event_name(e)).push_back(' ');
    return s;
  }
};

// Feeds `raw` in pieces of `step` bytes (0: all at once).
inline RequestRun run_request(Parser& p, const std::string& raw, size_t step = 0) {
  RequestRun run;
  std::vector<Slice> body;
  p.begin_message(raw.data());
  size_t pos = 0;
  size_t avail = step == 0 ? raw.size() : std::min(step, raw.size());
  while (pos < raw.size() || avail > pos) {
    Parser::Result r = p.execute(raw.data() + pos, avail - pos, &body);
    pos += r.consumed;
    if (r.event == Parser::Event::NeedMore) {
      if (avail >= raw.size()) break;
      avail = step == 0 ? raw.size() : std::min(avail + step, raw.size());
      continue;
    }
    run.events.push_back(r.event);
    if (r.event == Parser::Event::Error || r.event == Parser::Event::MessageComplete) break;
    p.resume();  // HeadComplete
  }
  run.consumed = pos;
  run.body = joined(body);
  return run;
}

}  // namespace sluice::http
