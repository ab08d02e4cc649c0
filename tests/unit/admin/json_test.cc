#include "proxy/admin/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace sluice::json {
namespace {

Value must_parse(std::string_view text) {
  ParseError err;
  std::optional<Value> v = parse(text, &err);
  EXPECT_TRUE(v.has_value()) << text << " -> " << err.describe();
  return v ? std::move(*v) : Value();
}

ParseError must_fail(std::string_view text, const ParseOptions& opt = {}) {
  ParseError err;
  std::optional<Value> v = parse(text, &err, opt);
  EXPECT_FALSE(v.has_value()) << "accepted: " << text;
  EXPECT_FALSE(err.message.empty()) << text;
  return err;
}

TEST(JsonParse, ValidCorpusRoundTrips) {
  const char* corpus[] = {
      "null",
      "true",
      "false",
      "0",
      "-1",
      "12.5",
      "\"\"",
      "\"abc\"",
      "[]",
      "{}",
      "[1,2,[3,{}]]",
      R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})",
      R"({"blue":90,"canary":10})",
      "18446744073709551615",
      "-9223372036854775808",
  };
  for (const char* text : corpus) {
    Value v = must_parse(text);
    EXPECT_EQ(to_string(v), text);
  }
}

TEST(JsonParse, WhitespaceAroundTokens) {
  Value v = must_parse(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : null }\n ");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v.find("a")->size(), 2u);
  EXPECT_TRUE(v.find("b")->is_null());
  EXPECT_EQ(v.find("zzz"), nullptr);
}

TEST(JsonParse, MembersKeepDocumentOrder) {
  Value v = must_parse(R"({"z":1,"a":2,"m":3})");
  ASSERT_EQ(v.members().size(), 3u);
  EXPECT_EQ(v.members()[0].key, "z");
  EXPECT_EQ(v.members()[1].key, "a");
  EXPECT_EQ(v.members()[2].key, "m");
}

struct Bad {
  const char* text;
  size_t offset;
  const char* fragment;  // expected in the message
};

TEST(JsonParse, InvalidCorpusWithOffsets) {
  const Bad corpus[] = {
      {"", 0, "unexpected end of input"},
      {"   ", 3, "unexpected end of input"},
      {"{", 1, "end of input"},
      {"[1,2", 4, "end of input"},
      {"[1,]", 3, "trailing comma"},
      {R"({"a":1,})", 7, "trailing comma"},
      {R"({"a" 1})", 5, "expected ':'"},
      {"{a:1}", 1, "expected a string key"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {R"({"a":1 "b":2})", 7, "expected ',' or '}'"},
      {"01", 0, "leading zeros"},
      {"-", 1, "expected a digit"},
      {"1.", 2, "after '.'"},
      {"1e", 2, "exponent"},
      {".5", 0, "expected a value"},
      {"+1", 0, "expected a value"},
      {"tru", 0, "invalid literal"},
      {"nul", 0, "invalid literal"},
      {"True", 0, "expected a value"},
      {"1 2", 2, "after the JSON value"},
      {"{} x", 3, "after the JSON value"},
      {"\"abc", 0, "unterminated string"},
      {"\"a\nb\"", 2, "must be escaped"},
      {"\"\\x\"", 1, "invalid escape"},
      {"\"\\u12\"", 1, "4 hex digits"},
      {"\"\\uD800\"", 1, "high surrogate"},
      {"\"\\uD800\\u0041\"", 1, "high surrogate"},
      {"\"\\uDC00\"", 1, "lone low surrogate"},
      {"\"\xff\"", 1, "invalid UTF-8"},
      {"\"\xc0\xaf\"", 1, "invalid UTF-8"},          // overlong '/'
      {"\"\xed\xa0\x80\"", 1, "invalid UTF-8"},      // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8"},  // above U+10FFFF
      {R"({"a":1,"a":2})", 7, "duplicate key \"a\""},
      {"1e400", 0, "out of range"},
      {"[1,2]]", 5, "after the JSON value"},
      {"// c\n1", 0, "expected a value"},
      {"'a'", 0, "expected a value"},
      {"NaN", 0, "expected a value"},
  };
  for (const Bad& b : corpus) {
    ParseError err = must_fail(b.text);
    EXPECT_EQ(err.offset, b.offset) << b.text << " -> " << err.message;
    EXPECT_NE(err.message.find(b.fragment), std::string::npos) << b.text << " -> " << err.message;
  }
}

TEST(JsonParse, DescribeNamesTheOffset) {
  ParseError err = must_fail(R"({"a" 1})");
  EXPECT_EQ(err.describe(),
            "invalid JSON at byte 5: expected ':' after object key, got character '1'");
}

TEST(JsonParse, StringEscapes) {
  Value v = must_parse(R"("q\" b\\ s\/ \b\f\n\r\t")");
  EXPECT_EQ(v.as_string(), "q\" b\\ s/ \b\f\n\r\t");
  EXPECT_EQ(must_parse(R"("\u0041\u00e9\u20AC")").as_string(), "A\xc3\xa9\xe2\x82\xac");
  // Surrogate pair -> one 4-byte sequence (U+1F600).
  EXPECT_EQ(must_parse(R"("\uD83D\uDE00")").as_string(), "\xf0\x9f\x98\x80");
  // NUL is a legal escaped character.
  EXPECT_EQ(must_parse(R"("a\u0000b")").as_string(), std::string("a\0b", 3));
  // Raw UTF-8 passes through.
  EXPECT_EQ(must_parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").as_string(),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(JsonParse, Integers) {
  Value v = must_parse("18446744073709551615");
  EXPECT_TRUE(v.is_integer());
  EXPECT_FALSE(v.is_negative());
  EXPECT_EQ(v.as_uint64(), std::numeric_limits<uint64_t>::max());

  v = must_parse("9007199254740993");  // 2^53 + 1: not exact as a double, exact here
  EXPECT_TRUE(v.is_integer());
  EXPECT_EQ(v.as_uint64(), 9007199254740993ull);

  v = must_parse("18446744073709551616");  // 2^64: a number, but not an integer we can hold
  EXPECT_TRUE(v.is_number());
  EXPECT_FALSE(v.is_integer());
  EXPECT_DOUBLE_EQ(v.as_double(), 18446744073709551616.0);

  v = must_parse("-9223372036854775808");
  EXPECT_TRUE(v.is_integer());
  EXPECT_TRUE(v.is_negative());
  EXPECT_TRUE(v.fits_int64());
  EXPECT_EQ(v.as_int64(), std::numeric_limits<int64_t>::min());

  v = must_parse("-9223372036854775809");
  EXPECT_FALSE(v.is_integer());

  v = must_parse("-0");
  EXPECT_TRUE(v.is_integer());
  EXPECT_FALSE(v.is_negative());
  EXPECT_EQ(v.as_uint64(), 0u);

  v = must_parse("-7");
  EXPECT_TRUE(v.is_integer());
  EXPECT_TRUE(v.is_negative());
  EXPECT_EQ(v.as_int64(), -7);

  EXPECT_FALSE(must_parse("1.5").is_integer());
  EXPECT_DOUBLE_EQ(must_parse("1.5").as_double(), 1.5);
  EXPECT_TRUE(must_parse("10.0").is_integer());
  EXPECT_EQ(must_parse("10.0").as_uint64(), 10u);
  EXPECT_TRUE(must_parse("1e2").is_integer());
  EXPECT_EQ(must_parse("1e2").as_uint64(), 100u);
  EXPECT_FALSE(must_parse("1e-2").is_integer());
  EXPECT_DOUBLE_EQ(must_parse("-2.5E+3").as_double(), -2500.0);
}

TEST(JsonParse, DepthLimit) {
  ParseOptions opt;
  opt.max_depth = 8;
  std::string ok = std::string(8, '[') + std::string(8, ']');
  EXPECT_TRUE(parse(ok, nullptr, opt).has_value());
  std::string deep = std::string(9, '[') + std::string(9, ']');
  ParseError err = must_fail(deep, opt);
  EXPECT_EQ(err.offset, 8u);
  EXPECT_NE(err.message.find("nesting deeper than 8"), std::string::npos);

  // The default limit keeps a hostile document from exhausting the stack.
  std::string hostile(100000, '[');
  ParseError err2 = must_fail(hostile);
  EXPECT_EQ(err2.offset, 64u);
  std::string objs;
  for (int i = 0; i < 100; ++i) objs += "{\"a\":";
  must_fail(objs);
}

TEST(JsonParse, SizeLimit) {
  ParseOptions opt;
  opt.max_bytes = 10;
  EXPECT_TRUE(parse("[1,2,3,4]", nullptr, opt).has_value());
  ParseError err = must_fail("[1,2,3,4,5]", opt);
  EXPECT_EQ(err.offset, 10u);
  EXPECT_NE(err.message.find("larger than 10 bytes"), std::string::npos);
}

TEST(JsonParse, ManyKeysDuplicateDetected) {
  std::string doc = "{";
  for (int i = 0; i < 200; ++i) doc += "\"k" + std::to_string(i) + "\":1,";
  doc += "\"k150\":2}";
  ParseError err = must_fail(doc);
  EXPECT_NE(err.message.find("duplicate key \"k150\""), std::string::npos);
}

TEST(JsonWriter, Escaping) {
  EXPECT_EQ(quote("plain"), "\"plain\"");
  EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(quote(std::string("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  // Invalid UTF-8 never reaches the output.
  EXPECT_EQ(quote("a\xff"
                  "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(quote("\xc3"), R"("\ufffd")");
  EXPECT_EQ(quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
  // Whatever the writer produces parses back.
  for (std::string s : {std::string("\x7f\x80\xc2\xa0"), std::string("\xf0\x9f\x98\x80\xf0")}) {
    std::optional<Value> v = parse(quote(s));
    ASSERT_TRUE(v.has_value()) << quote(s);
  }
}

TEST(JsonWriter, NumbersAndStructure) {
  Writer w;
  w.begin_object()
      .member("u", uint64_t{18446744073709551615ull})
      .member("i", -42)
      .member("d", 12.5)
      .member("third", 1.0 / 3.0)
      .member("nan", std::nan(""))
      .member("inf", std::numeric_limits<double>::infinity())
      .member("b", true)
      .member("s", "x");
  w.key("arr").begin_array().value(1).value("two").null().begin_object().end_object().end_array();
  w.key("raw").raw(R"({"k":[1]})");
  w.key("empty").begin_array().end_array();
  w.end_object();
  EXPECT_TRUE(w.complete());
  const std::string out = w.take();
  EXPECT_EQ(out,
            R"({"u":18446744073709551615,"i":-42,"d":12.5,"third":0.3333333333333333,)"
            R"("nan":null,"inf":null,"b":true,"s":"x","arr":[1,"two",null,{}],"raw":{"k":[1]},)"
            R"("empty":[]})");
  std::optional<Value> back = parse(out);
  ASSERT_TRUE(back.has_value());
  EXPECT_DOUBLE_EQ(back->find("third")->as_double(), 1.0 / 3.0);
  EXPECT_EQ(back->find("u")->as_uint64(), 18446744073709551615ull);
}

TEST(JsonValue, BuildersAndTypeNames) {
  EXPECT_STREQ(Value::make_null().type_name(), "null");
  EXPECT_STREQ(Value::make_bool(true).type_name(), "boolean");
  EXPECT_STREQ(Value::make_uint(3).type_name(), "number");
  EXPECT_STREQ(Value::make_string("s").type_name(), "string");
  EXPECT_STREQ(Value::make_array().type_name(), "array");
  EXPECT_STREQ(Value::make_object().type_name(), "object");
  Value o = Value::make_object();
  o.members().push_back({"a", Value::make_int(-3)});
  o.members().push_back({"b", Value::make_number(0.25)});
  Value arr = Value::make_array();
  arr.items().push_back(Value::make_string("x\n"));
  o.members().push_back({"c", std::move(arr)});
  EXPECT_EQ(to_string(o), R"({"a":-3,"b":0.25,"c":["x\n"]})");
}

}  // namespace
}  // namespace sluice::json
