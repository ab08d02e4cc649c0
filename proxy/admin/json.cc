#include "proxy/admin/json.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <unordered_set>

namespace sluice::json {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one
// (overlong forms, UTF-16 surrogates and code points above U+10FFFF included).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return n;
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

// ---------------------------------------------------------------- writer

void append_quoted(std::string_view s, std::string* out) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(s, &out);
  return out;
}

void append_number(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  assert(r.ec == std::errc());
  out->append(buf, r.ptr);
}

void append_number(uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void append_number(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void Writer::before_value() {
  if (stack_.empty()) {
    assert(out_.empty() && "one top-level value per Writer");
    return;
  }
  Level& l = stack_.back();
  if (l.object) {
    assert(l.have_key && "key() before each value inside an object");
    l.have_key = false;
    return;
  }
  if (!l.first) out_.push_back(',');
  l.first = false;
}

Writer& Writer::begin_object() {
  before_value();
  out_.push_back('{');
  stack_.push_back({true, true, false});
  return *this;
}

Writer& Writer::end_object() {
  assert(!stack_.empty() && stack_.back().object && !stack_.back().have_key);
  stack_.pop_back();
  out_.push_back('}');
  return *this;
}

Writer& Writer::begin_array() {
  before_value();
  out_.push_back('[');
  stack_.push_back({false, true, false});
  return *this;
}

Writer& Writer::end_array() {
  assert(!stack_.empty() && !stack_.back().object);
  stack_.pop_back();
  out_.push_back(']');
  return *this;
}

Writer& Writer::key(std::string_view k) {
  assert(!stack_.empty() && stack_.back().object && !stack_.back().have_key);
  Level& l = stack_.back();
  if (!l.first) out_.push_back(',');
  l.first = false;
  l.have_key = true;
  append_quoted(k, &out_);
  out_.push_back(':');
  return *this;
}

Writer& Writer::value(std::string_view s) {
  before_value();
  append_quoted(s, &out_);
  return *this;
}

Writer& Writer::value(bool b) {
  before_value();
  out_.append(b ? "true" : "false");
  return *this;
}

Writer& Writer::value(double d) {
  before_value();
  append_number(d, &out_);
  return *this;
}

Writer& Writer::value_int(int64_t v) {
  before_value();
  append_number(v, &out_);
  return *this;
}

Writer& Writer::value_uint(uint64_t v) {
  before_value();
  append_number(v, &out_);
  return *this;
}

Writer& Writer::null() {
  before_value();
  out_.append("null");
  return *this;
}

Writer& Writer::raw(std::string_view json) {
  before_value();
  out_.append(json);
  return *this;
}

std::string Writer::take() {
  assert(stack_.empty());
  std::string s = std::move(out_);
  out_.clear();
  return s;
}

// ---------------------------------------------------------------- DOM

Value Value::make_null() {
  return Value();
}

Value Value::make_bool(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

Value Value::make_number(double d) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = d;
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0) {
    v.integer_ = true;
    v.negative_ = d < 0;
    v.uint_ = static_cast<uint64_t>(std::fabs(d));
  }
  return v;
}

Value Value::make_uint(uint64_t u) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = static_cast<double>(u);
  v.integer_ = true;
  v.uint_ = u;
  return v;
}

Value Value::make_int(int64_t i) {
  if (i >= 0) return make_uint(static_cast<uint64_t>(i));
  Value v;
  v.type_ = Type::Number;
  v.number_ = static_cast<double>(i);
  v.integer_ = true;
  v.negative_ = true;
  v.uint_ = static_cast<uint64_t>(0) - static_cast<uint64_t>(i);
  return v;
}

Value Value::make_string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.string_ = std::move(s);
  return v;
}

Value Value::make_array() {
  Value v;
  v.type_ = Type::Array;
  return v;
}

Value Value::make_object() {
  Value v;
  v.type_ = Type::Object;
  return v;
}

bool Value::fits_int64() const {
  if (!integer_) return false;
  return negative_ ? uint_ <= (uint64_t{1} << 63) : uint_ < (uint64_t{1} << 63);
}

int64_t Value::as_int64() const {
  if (!negative_) return static_cast<int64_t>(uint_);
  // Two's complement negation, well defined for INT64_MIN.
  return static_cast<int64_t>(static_cast<uint64_t>(0) - uint_);
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const Member& m : object_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

size_t Value::size() const {
  if (type_ == Type::Array) return array_.size();
  if (type_ == Type::Object) return object_.size();
  return 0;
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Null:
      return "null";
    case Type::Bool:
      return "boolean";
    case Type::Number:
      return "number";
    case Type::String:
      return "string";
    case Type::Array:
      return "array";
    case Type::Object:
      return "object";
  }
  return "?";
}

void write(Writer& w, const Value& v) {
  switch (v.type()) {
    case Value::Type::Null:
      w.null();
      break;
    case Value::Type::Bool:
      w.value(v.as_bool());
      break;
    case Value::Type::Number:
      if (v.is_integer() && !v.is_negative()) {
        w.value(v.as_uint64());
      } else if (v.is_integer() && v.fits_int64()) {
        w.value(v.as_int64());
      } else {
        w.value(v.as_double());
      }
      break;
    case Value::Type::String:
      w.value(v.as_string());
      break;
    case Value::Type::Array:
      w.begin_array();
      for (const Value& item : v.items()) write(w, item);
      w.end_array();
      break;
    case Value::Type::Object:
      w.begin_object();
      for (const Member& m : v.members()) {
        w.key(m.key);
        write(w, m.value);
      }
      w.end_object();
      break;
  }
}

std::string to_string(const Value& v) {
  Writer w;
  write(w, v);
  return w.take();
}

// ---------------------------------------------------------------- parser

std::string ParseError::describe() const {
  return "invalid JSON at byte " + std::to_string(offset) + ": " + message;
}

// Recursive descent; depth is bounded by options.max_depth, so the native
// stack is too.
class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : s_(text), opt_(options) {}

  std::optional<Value> run(ParseError* error) {
    std::optional<Value> out;
    if (s_.size() > opt_.max_bytes) {
      fail(opt_.max_bytes, "document larger than " + std::to_string(opt_.max_bytes) + " bytes");
    } else {
      Value v;
      skip_ws();
      if (parse_value(&v, 0)) {
        skip_ws();
        if (pos_ != s_.size()) {
          fail(pos_, "unexpected " + describe_at(pos_) + " after the JSON value");
        } else {
          out = std::move(v);
        }
      }
    }
    if (!out && error != nullptr) *error = std::move(error_);
    return out;
  }

 private:
  bool fail(size_t at, std::string message) {
    error_.offset = at;
    error_.message = std::move(message);
    return false;
  }

  std::string describe_at(size_t at) const {
    if (at >= s_.size()) return "end of input";
    const unsigned char c = static_cast<unsigned char>(s_[at]);
    if (c >= 0x21 && c < 0x7f) return std::string("character '") + static_cast<char>(c) + "'";
    std::string out = "byte 0x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
    return out;
  }

  void skip_ws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool parse_value(Value* v, size_t depth) {
    if (pos_ >= s_.size()) return fail(pos_, "unexpected end of input, expected a value");
    switch (s_[pos_]) {
      case '{':
        return parse_object(v, depth + 1);
      case '[':
        return parse_array(v, depth + 1);
      case '"':
        v->type_ = Value::Type::String;
        return parse_string(&v->string_);
      case 't':
        return parse_literal("true", v, Value::Type::Bool, true);
      case 'f':
        return parse_literal("false", v, Value::Type::Bool, false);
      case 'n':
        return parse_literal("null", v, Value::Type::Null, false);
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return parse_number(v);
        return fail(pos_, "unexpected " + describe_at(pos_) + ", expected a value");
    }
  }

  bool parse_literal(std::string_view word, Value* v, Value::Type type, bool b) {
    if (s_.substr(pos_, word.size()) != word) {
      return fail(pos_, "invalid literal, expected '" + std::string(word) + "'");
    }
    pos_ += word.size();
    v->type_ = type;
    v->bool_ = b;
    return true;
  }

  bool enter(size_t depth) {
    if (depth > opt_.max_depth) {
      return fail(pos_, "nesting deeper than " + std::to_string(opt_.max_depth) + " levels");
    }
    return true;
  }

  bool parse_array(Value* v, size_t depth) {
    if (!enter(depth)) return false;
    v->type_ = Value::Type::Array;
    ++pos_;  // '['
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      Value item;
      if (!parse_value(&item, depth)) return false;
      v->array_.push_back(std::move(item));
      skip_ws();
      if (pos_ >= s_.size()) return fail(pos_, "unexpected end of input inside an array");
      if (s_[pos_] == ',') {
        ++pos_;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ']') return fail(pos_, "trailing comma in array");
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return fail(pos_, "expected ',' or ']' after an array element, got " + describe_at(pos_));
    }
  }

  bool parse_object(Value* v, size_t depth) {
    if (!enter(depth)) return false;
    v->type_ = Value::Type::Object;
    ++pos_;  // '{'
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    // Small objects are checked for duplicate keys by a scan, large ones by a set.
    constexpr size_t kScanLimit = 16;
    std::unordered_set<std::string> seen;
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size()) return fail(pos_, "unexpected end of input inside an object");
      if (s_[pos_] != '"') {
        if (s_[pos_] == '}') return fail(pos_, "trailing comma in object");
        return fail(pos_, "expected a string key, got " + describe_at(pos_));
      }
      const size_t key_at = pos_;
      std::string key;
      if (!parse_string(&key)) return false;
      bool dup = false;
      if (v->object_.size() < kScanLimit) {
        for (const Member& m : v->object_) dup = dup || m.key == key;
      } else {
        if (seen.empty()) {
          for (const Member& m : v->object_) seen.insert(m.key);
        }
        dup = !seen.insert(key).second;
      }
      if (dup) return fail(key_at, "duplicate key " + quote(key));
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') {
        return fail(pos_, "expected ':' after object key, got " + describe_at(pos_));
      }
      ++pos_;
      skip_ws();
      Member m;
      m.key = std::move(key);
      if (!parse_value(&m.value, depth)) return false;
      v->object_.push_back(std::move(m));
      skip_ws();
      if (pos_ >= s_.size()) return fail(pos_, "unexpected end of input inside an object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return fail(pos_, "expected ',' or '}' after an object member, got " + describe_at(pos_));
    }
  }

  // Reads 4 hex digits at pos_.
  bool hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return false;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = s_[pos_ + k];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      v = (v << 4) | d;
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  bool parse_string(std::string* out) {
    const size_t open = pos_;
    ++pos_;  // '"'
    for (;;) {
      // Copy the run of plain ASCII in one go.
      size_t run = pos_;
      while (run < s_.size()) {
        const unsigned char c = static_cast<unsigned char>(s_[run]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++run;
      }
      out->append(s_.data() + pos_, run - pos_);
      pos_ = run;
      if (pos_ >= s_.size()) return fail(open, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        return fail(pos_,
                    "control character " + describe_at(pos_) + " in a string must be escaped");
      }
      if (c >= 0x80) {
        const size_t n = utf8_sequence(s_, pos_);
        if (n == 0) return fail(pos_, "invalid UTF-8 in a string");
        out->append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      // Backslash.
      const size_t esc = pos_;
      ++pos_;
      if (pos_ >= s_.size()) return fail(open, "unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(&cp)) return fail(esc, "invalid \\u escape: expected 4 hex digits");
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            return fail(esc, "lone low surrogate in \\u escape");
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') {
              return fail(esc, "high surrogate in \\u escape not followed by a low surrogate");
            }
            pos_ += 2;
            if (!hex4(&lo)) return fail(pos_ - 2, "invalid \\u escape: expected 4 hex digits");
            if (lo < 0xdc00 || lo > 0xdfff) {
              return fail(esc, "high surrogate in \\u escape not followed by a low surrogate");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          append_utf8(cp, out);
          break;
        }
        default:
          return fail(esc, "invalid escape '\\" + std::string(1, e) + "'");
      }
    }
  }

  bool parse_number(Value* v) {
    const size_t start = pos_;
    const auto digit = [&](size_t k) { return k < s_.size() && s_[k] >= '0' && s_[k] <= '9'; };
    bool negative = false;
    if (s_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    const size_t int_start = pos_;
    if (!digit(pos_)) return fail(pos_, "invalid number: expected a digit");
    if (s_[pos_] == '0' && digit(pos_ + 1)) {
      return fail(pos_, "invalid number: leading zeros are not allowed");
    }
    while (digit(pos_)) ++pos_;
    const size_t int_end = pos_;
    bool plain = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      plain = false;
      ++pos_;
      if (!digit(pos_)) return fail(pos_, "invalid number: expected a digit after '.'");
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      plain = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit(pos_)) return fail(pos_, "invalid number: expected a digit in the exponent");
      while (digit(pos_)) ++pos_;
    }
    double d = 0;
    auto r = std::from_chars(s_.data() + start, s_.data() + pos_, d);
    if (r.ec != std::errc() || r.ptr != s_.data() + pos_) {
      return fail(start, "number out of range");
    }
    *v = Value::make_number(d);
    if (plain) {
      // Exact integer from the digits, not from the (rounded) double.
      uint64_t mag = 0;
      auto ir = std::from_chars(s_.data() + int_start, s_.data() + int_end, mag);
      const bool fits = ir.ec == std::errc() && (!negative || mag <= (uint64_t{1} << 63));
      v->integer_ = fits;
      v->uint_ = fits ? mag : 0;
      v->negative_ = fits && negative && mag != 0;
    }
    return true;
  }

  std::string_view s_;
  const ParseOptions& opt_;
  size_t pos_ = 0;
  ParseError error_;
};

std::optional<Value> parse(std::string_view text, ParseError* error, const ParseOptions& options) {
  Parser p(text, options);
  return p.run(error);
}

}  // namespace sluice::json
