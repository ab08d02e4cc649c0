// serialize_state() / parse_state(): see controller.h for the format.
//
// The parser is two small layers: a generic JSON reader into a tiny value tree (bounded
// nesting depth, so hostile input cannot exhaust the stack), then a schema walk that accepts
// exactly the keys and types serialize_state() writes. Errors are returned, never thrown.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "routing/controller.h"

namespace sluice::routing {
namespace {

// ---- writer ------------------------------------------------------------------------------

void put_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

template <typename Int>
void put_int(std::string& out, Int v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void put_double(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;  // JSON has no NaN/Inf; rates are finite by construction
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  out.append(buf, res.ptr);
}

std::string_view pool_name(const PersistedRoute& r, uint32_t slot) {
  return slot < r.pools.size() ? std::string_view(r.pools[slot]) : std::string_view();
}

// ---- reader: generic JSON ----------------------------------------------------------------

struct Member;

struct Value {
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;  // string contents, or the number's source text
  std::vector<Value> items;
  std::vector<Member> members;  // in document order
  size_t offset = 0;            // where the value starts
};

struct Member {
  std::string key;
  Value value;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool document(Value& v) {
    ws();
    if (!value(v, 0)) return false;
    ws();
    if (pos_ != in_.size()) return fail("trailing bytes after the document");
    return true;
  }
  const std::string& error() const { return error_; }
  size_t error_offset() const { return error_at_; }

 private:
  static constexpr int kMaxDepth = 8;  // the format nests 4 deep

  bool fail(const char* msg) {
    if (error_.empty()) {
      error_ = msg;
      error_at_ = pos_;
    }
    return false;
  }
  bool eof() const { return pos_ >= in_.size(); }
  char peek() const { return in_[pos_]; }
  void ws() {
    while (!eof() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool value(Value& v, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    if (eof()) return fail("unexpected end of input");
    v.offset = pos_;
    switch (peek()) {
      case 'n':
        v.type = Value::Type::kNull;
        return literal("null");
      case 't':
        v.type = Value::Type::kBool;
        v.boolean = true;
        return literal("true");
      case 'f':
        v.type = Value::Type::kBool;
        v.boolean = false;
        return literal("false");
      case '"':
        v.type = Value::Type::kString;
        return string(v.text);
      case '[':
        return array(v, depth);
      case '{':
        return object(v, depth);
      default:
        v.type = Value::Type::kNumber;
        return number(v.text);
    }
  }

  bool array(Value& v, int depth) {
    v.type = Value::Type::kArray;
    ++pos_;  // '['
    ws();
    if (!eof() && peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      ws();
      v.items.emplace_back();
      if (!value(v.items.back(), depth + 1)) return false;
      ws();
      if (eof()) return fail("unexpected end of input in array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  bool object(Value& v, int depth) {
    v.type = Value::Type::kObject;
    ++pos_;  // '{'
    ws();
    if (!eof() && peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      ws();
      if (eof() || peek() != '"') return fail("expected a key");
      std::string key;
      size_t key_at = pos_;
      if (!string(key)) return false;
      for (const Member& m : v.members) {
        if (m.key == key) {
          pos_ = key_at;
          return fail("duplicate key");
        }
      }
      ws();
      if (eof() || peek() != ':') return fail("expected ':'");
      ++pos_;
      ws();
      v.members.push_back(Member{std::move(key), Value{}});
      if (!value(v.members.back().value, depth + 1)) return false;
      ws();
      if (eof()) return fail("unexpected end of input in object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool hex4(uint32_t& out) {
    if (in_.size() - pos_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = in_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("invalid \\u escape");
    }
    return true;
  }

  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string(std::string& out) {
    ++pos_;  // opening quote
    for (;;) {
      if (eof()) return fail("unterminated string");
      auto c = static_cast<unsigned char>(in_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (eof()) return fail("unterminated escape");
      char e = in_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
            uint32_t lo = 0;
            if (in_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate");
            pos_ += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");
          }
          utf8(out, cp);
          break;
        }
        default:
          return fail("invalid escape");
      }
    }
  }

  // RFC 8259 number grammar; the text is kept and converted by the schema layer.
  bool number(std::string& out) {
    size_t start = pos_;
    auto digit = [this] { return !eof() && peek() >= '0' && peek() <= '9'; };
    if (!eof() && peek() == '-') ++pos_;
    if (!digit()) return fail("invalid value");
    if (peek() == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (!eof() && peek() == '.') {
      ++pos_;
      if (!digit()) return fail("invalid number");
      while (digit()) ++pos_;
    }
    if (!eof() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!eof() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) return fail("invalid number");
      while (digit()) ++pos_;
    }
    out.assign(in_.substr(start, pos_ - start));
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_at_ = 0;
};

// ---- reader: schema ----------------------------------------------------------------------

class Schema {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t offset() const { return at_; }

  bool fail(const Value& v, std::string msg) {
    if (error_.empty()) {
      error_ = std::move(msg);
      at_ = v.offset;
    }
    return false;
  }

  // Checks that `obj` is an object with exactly `keys`, and returns pointers in that order.
  bool fields(const Value& obj, std::string_view what, std::initializer_list<std::string_view> keys,
              std::vector<const Value*>& out) {
    if (obj.type != Value::Type::kObject)
      return fail(obj, std::string(what) + ": expected an object");
    out.assign(keys.size(), nullptr);
    for (const auto& [k, v] : obj.members) {  // Member{key, value}
      auto it = std::find(keys.begin(), keys.end(), k);
      if (it == keys.end()) return fail(v, std::string(what) + ": unknown key \"" + k + "\"");
      out[static_cast<size_t>(it - keys.begin())] = &v;
    }
    size_t i = 0;
    for (std::string_view k : keys) {
      if (!out[i++])
        return fail(obj, std::string(what) + ": missing key \"" + std::string(k) + "\"");
    }
    return true;
  }

  template <typename Int>
  bool integer(const Value& v, std::string_view what, Int& out) {
    if (v.type != Value::Type::kNumber) return fail(v, std::string(what) + ": expected an integer");
    const char* b = v.text.data();
    const char* e = b + v.text.size();
    auto res = std::from_chars(b, e, out);
    if (res.ec != std::errc() || res.ptr != e)
      return fail(v, std::string(what) + ": expected an integer in range");
    return true;
  }

  bool real(const Value& v, std::string_view what, double& out) {
    if (v.type != Value::Type::kNumber) return fail(v, std::string(what) + ": expected a number");
    const char* b = v.text.data();
    const char* e = b + v.text.size();
    auto res = std::from_chars(b, e, out);
    if (res.ec != std::errc() || res.ptr != e || !std::isfinite(out)) {
      return fail(v, std::string(what) + ": expected a finite number");
    }
    return true;
  }

  bool string(const Value& v, std::string_view what, std::string& out) {
    if (v.type != Value::Type::kString) return fail(v, std::string(what) + ": expected a string");
    out = v.text;
    return true;
  }

  bool boolean(const Value& v, std::string_view what, bool& out) {
    if (v.type != Value::Type::kBool)
      return fail(v, std::string(what) + ": expected true or false");
    out = v.boolean;
    return true;
  }

 private:
  std::string error_;
  size_t at_ = 0;
};

template <typename Enum, size_t N>
bool enum_from(std::string_view s, const Enum (&all)[N], Enum& out) {
  for (Enum e : all) {
    if (s == to_string(e)) {
      out = e;
      return true;
    }
  }
  return false;
}

bool parse_rollback(Schema& sc, const Value& v, const PersistedRoute& route, RollbackRecord& r) {
  std::vector<const Value*> f;
  if (!sc.fields(v, "rollback",
                 {"pool", "reason", "observed_rate", "requests", "p99_us", "weight_moved", "at_ms"},
                 f)) {
    return false;
  }
  std::string pool, reason;
  if (!sc.string(*f[0], "rollback.pool", pool)) return false;
  auto it = std::find(route.pools.begin(), route.pools.end(), pool);
  if (it == route.pools.end()) return sc.fail(*f[0], "rollback.pool: not a pool of the route");
  r.pool = static_cast<uint32_t>(it - route.pools.begin());
  if (!sc.string(*f[1], "rollback.reason", reason)) return false;
  static constexpr Reason kReasons[] = {Reason::kErrorRate, Reason::kP99Latency, Reason::kManual};
  if (!enum_from(reason, kReasons, r.reason))
    return sc.fail(*f[1], "rollback.reason: unknown reason");
  if (!sc.real(*f[2], "rollback.observed_rate", r.observed_rate)) return false;
  if (r.observed_rate < 0) return sc.fail(*f[2], "rollback.observed_rate: negative");
  if (!sc.integer(*f[3], "rollback.requests", r.requests)) return false;
  if (f[4]->type == Value::Type::kNull) {
    r.observed_p99.reset();
  } else {
    uint64_t us = 0;
    if (!sc.integer(*f[4], "rollback.p99_us", us)) return false;
    if (us > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return sc.fail(*f[4], "rollback.p99_us: too large");
    r.observed_p99 = Micros{static_cast<int64_t>(us)};
  }
  if (!sc.integer(*f[5], "rollback.weight_moved", r.weight_moved)) return false;
  int64_t at = 0;
  if (!sc.integer(*f[6], "rollback.at_ms", at)) return false;
  r.at = WallTime{Millis{at}};
  return true;
}

bool parse_rollout(Schema& sc, const Value& v, RolloutState& r) {
  std::vector<const Value*> f;
  if (!sc.fields(v, "rollout", {"step", "status", "next_step_at_ms"}, f)) return false;
  if (!sc.integer(*f[0], "rollout.step", r.step)) return false;
  std::string status;
  if (!sc.string(*f[1], "rollout.status", status)) return false;
  static constexpr RolloutStatus kAll[] = {RolloutStatus::kRunning, RolloutStatus::kComplete,
                                           RolloutStatus::kAborted};
  if (!enum_from(status, kAll, r.status)) return sc.fail(*f[1], "rollout.status: unknown status");
  int64_t at = 0;
  if (!sc.integer(*f[2], "rollout.next_step_at_ms", at)) return false;
  r.next_step_at = WallTime{Millis{at}};
  return true;
}

bool parse_route(Schema& sc, const Value& v, PersistedRoute& route) {
  std::vector<const Value*> f;
  if (!sc.fields(v, "route", {"name", "weights", "operator_set", "rollbacks", "rollout"}, f))
    return false;
  if (!sc.string(*f[0], "route.name", route.name)) return false;
  if (route.name.empty()) return sc.fail(*f[0], "route.name: empty");

  const Value& w = *f[1];
  if (w.type != Value::Type::kObject || w.members.empty())
    return sc.fail(w, "route.weights: expected a non-empty object");
  uint64_t sum = 0;
  for (const auto& [pool, weight] : w.members) {  // Member{key, value}
    if (pool.empty()) return sc.fail(weight, "route.weights: empty pool name");
    uint32_t x = 0;
    if (!sc.integer(weight, "route.weights", x)) return false;
    route.pools.push_back(pool);
    route.state.weights.push_back(x);
    sum += x;
  }
  if (sum == 0) return sc.fail(w, "route.weights: sum must be greater than 0");

  if (!sc.boolean(*f[2], "route.operator_set", route.state.operator_set)) return false;

  const Value& rb = *f[3];
  if (rb.type != Value::Type::kArray) return sc.fail(rb, "route.rollbacks: expected an array");
  for (const Value& item : rb.items) {
    RollbackRecord r;
    if (!parse_rollback(sc, item, route, r)) return false;
    if (route.state.rolled_back(r.pool)) return sc.fail(item, "route.rollbacks: pool listed twice");
    route.state.rollbacks.push_back(r);
  }

  if (f[4]->type != Value::Type::kNull) {
    RolloutState r;
    if (!parse_rollout(sc, *f[4], r)) return false;
    route.state.rollout = r;
  }
  return true;
}

}  // namespace

std::string serialize_state(std::span<const PersistedRoute> routes) {
  std::string out = "{\"version\":1,\"routes\":[";
  bool first = true;
  for (const PersistedRoute& r : routes) {
    out += first ? "\n" : ",\n";
    first = false;
    out += "{\"name\":";
    put_string(out, r.name);
    out += ",\"weights\":{";
    for (size_t i = 0; i < r.state.weights.size(); ++i) {
      if (i) out += ',';
      put_string(out, pool_name(r, static_cast<uint32_t>(i)));
      out += ':';
      put_int(out, r.state.weights[i]);
    }
    out += "},\"operator_set\":";
    out += r.state.operator_set ? "true" : "false";
    out += ",\"rollbacks\":[";
    for (size_t i = 0; i < r.state.rollbacks.size(); ++i) {
      const RollbackRecord& b = r.state.rollbacks[i];
      if (i) out += ',';
      out += "{\"pool\":";
      put_string(out, pool_name(r, b.pool));
      out += ",\"reason\":";
      put_string(out, to_string(b.reason));
      out += ",\"observed_rate\":";
      put_double(out, b.observed_rate);
      out += ",\"requests\":";
      put_int(out, b.requests);
      out += ",\"p99_us\":";
      if (b.observed_p99) {
        put_int(out, std::max<int64_t>(0, b.observed_p99->count()));
      } else {
        out += "null";
      }
      out += ",\"weight_moved\":";
      put_int(out, b.weight_moved);
      out += ",\"at_ms\":";
      put_int(out, b.at.time_since_epoch().count());
      out += '}';
    }
    out += "],\"rollout\":";
    if (r.state.rollout) {
      out += "{\"step\":";
      put_int(out, r.state.rollout->step);
      out += ",\"status\":";
      put_string(out, to_string(r.state.rollout->status));
      out += ",\"next_step_at_ms\":";
      put_int(out, r.state.rollout->next_step_at.time_since_epoch().count());
      out += '}';
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "\n]}\n";
  return out;
}

StateParseResult parse_state(std::string_view json) {
  StateParseResult result;
  auto set_error = [&result](size_t at, const std::string& msg) {
    result.routes.clear();
    result.error = "offset ";
    result.error.append(std::to_string(at)).append(": ").append(msg);
    return result;
  };

  Value doc;
  Reader reader(json);
  if (!reader.document(doc)) return set_error(reader.error_offset(), reader.error());

  Schema sc;
  std::vector<const Value*> f;
  if (!sc.fields(doc, "state", {"version", "routes"}, f)) return set_error(sc.offset(), sc.error());
  uint32_t version = 0;
  if (!sc.integer(*f[0], "version", version)) return set_error(sc.offset(), sc.error());
  if (version != 1) return set_error(f[0]->offset, "version: unsupported (expected 1)");
  const Value& routes = *f[1];
  if (routes.type != Value::Type::kArray)
    return set_error(routes.offset, "routes: expected an array");
  for (const Value& item : routes.items) {
    PersistedRoute r;
    if (!parse_route(sc, item, r)) return set_error(sc.offset(), sc.error());
    for (const PersistedRoute& seen : result.routes) {
      if (seen.name == r.name)
        return set_error(item.offset, "route.name: duplicate route \"" + r.name + "\"");
    }
    result.routes.push_back(std::move(r));
  }
  return result;
}

}  // namespace sluice::routing
