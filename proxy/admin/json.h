// A small JSON toolkit for the admin API, sluicectl and the control plane.
//
//   Writer  builds compact JSON text. Strings are escaped (control characters,
//           quotes, backslashes; bytes that are not valid UTF-8 become U+FFFD so
//           the output is always valid JSON); numbers go through std::to_chars;
//           NaN and infinities, which JSON cannot hold, are written as null.
//   parse() is a strict RFC 8259 parser into a small DOM (Value): no comments,
//           no trailing commas, no leading zeros, no lone surrogates, no invalid
//           UTF-8, no duplicate object keys. Input size and nesting depth are
//           bounded. Errors carry the byte offset where parsing stopped.
//
// Nothing here throws on bad input; allocation failure is the only exception.
// Not thread-safe per object; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sluice::json {

// ---------------------------------------------------------------- writer

// Appends `s` as a quoted JSON string to *out.
void append_quoted(std::string_view s, std::string* out);
std::string quote(std::string_view s);

// Appends the shortest decimal that round-trips (std::to_chars); null for
// NaN and infinities.
void append_number(double v, std::string* out);
void append_number(uint64_t v, std::string* out);
void append_number(int64_t v, std::string* out);

// Streaming writer. Inside an object, call key() before each value. Misuse
// (value without key in an object, unbalanced end_*) is a programming error
// checked with assert.
//
//   Writer w;
//   w.begin_object().key("error").value("no such route").end_object();
//   std::string body = w.take();   // {"error":"no such route"}
class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);

  Writer& value(std::string_view s);
  Writer& value(const char* s) { return value(std::string_view(s)); }
  Writer& value(const std::string& s) { return value(std::string_view(s)); }
  Writer& value(bool b);
  Writer& value(double d);
  Writer& value(float d) { return value(static_cast<double>(d)); }
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool> &&
           !std::is_same_v<T, char>) Writer& value(T v) {
    if constexpr (std::is_signed_v<T>) {
      return value_int(static_cast<int64_t>(v));
    } else {
      return value_uint(static_cast<uint64_t>(v));
    }
  }
  Writer& null();
  // Inserts already-serialised JSON as one value (trusted: not re-checked).
  Writer& raw(std::string_view json);

  // Shorthands for one member: key(k).value(v).
  template <typename T>
  Writer& member(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take();
  // True once every begin_* has its end_* (and something was written).
  bool complete() const { return stack_.empty() && !out_.empty(); }

 private:
  Writer& value_int(int64_t v);
  Writer& value_uint(uint64_t v);
  void before_value();

  struct Level {
    bool object;
    bool first;
    bool have_key;
  };
  std::string out_;
  std::vector<Level> stack_;
};

// ---------------------------------------------------------------- DOM

class Value;
struct Member;

class Value {
 public:
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value make_null();
  static Value make_bool(bool b);
  static Value make_number(double d);
  static Value make_uint(uint64_t u);
  static Value make_int(int64_t i);
  static Value make_string(std::string s);
  static Value make_array();
  static Value make_object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Bool.
  bool as_bool() const { return bool_; }
  // Number: always available as a double.
  double as_double() const { return number_; }
  // The number is integral and in [-2^63, 2^64-1]: exact in as_uint64() /
  // as_int64(), whatever its double rounds to. Literals with a fraction or an
  // exponent count when their value is integral and |v| <= 2^53 ("10.0", "1e2").
  bool is_integer() const { return integer_; }
  bool is_negative() const { return negative_; }
  // Valid when is_integer() && !is_negative().
  uint64_t as_uint64() const { return uint_; }
  // Valid when is_integer() and the value fits an int64.
  bool fits_int64() const;
  int64_t as_int64() const;
  // String.
  const std::string& as_string() const { return string_; }
  // Array.
  const std::vector<Value>& items() const { return array_; }
  std::vector<Value>& items() { return array_; }
  // Object, members in document order.
  const std::vector<Member>& members() const { return object_; }
  std::vector<Member>& members() { return object_; }
  // Object member by key, or null if absent / not an object.
  const Value* find(std::string_view key) const;

  // Array / object size (0 for scalars).
  size_t size() const;

  // "null", "boolean", "number", "string", "array", "object".
  const char* type_name() const;

 private:
  friend class Parser;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool integer_ = false;
  bool negative_ = false;
  double number_ = 0;
  uint64_t uint_ = 0;  // magnitude when integer_
  std::string string_;
  std::vector<Value> array_;
  std::vector<Member> object_;
};

struct Member {
  std::string key;
  Value value;
};

// Serialises a Value compactly (the writer's rules).
void write(Writer& w, const Value& v);
std::string to_string(const Value& v);

// ---------------------------------------------------------------- parser

struct ParseOptions {
  size_t max_bytes = 1 << 20;  // larger input: error at offset max_bytes
  size_t max_depth = 64;       // arrays + objects nested deeper: error
};

struct ParseError {
  size_t offset = 0;    // byte offset into the input where parsing stopped
  std::string message;  // e.g. "expected ':' after object key"
  // "invalid JSON at byte 12: expected ':' after object key"
  std::string describe() const;
};

// Parses exactly one JSON value (surrounded by optional whitespace). On
// failure returns nullopt and fills *error when given.
std::optional<Value> parse(std::string_view text, ParseError* error = nullptr,
                           const ParseOptions& options = {});

}  // namespace sluice::json
