// Private to proxy/config: the one way the loader reads TOML.
//
// A table's schema is a list of Field<T>: a key, whether it is required, and a
// reader that checks the node and stores it into T. read_table() walks the
// table once, reports unknown keys (with a "did you mean"), runs each field's
// reader and reports missing required keys. Value readers (integer(), duration(),
// string(), array_of(), ...) report type and range errors at the value's
// position and return std::nullopt, so one pass collects every problem.
//
// Not thread-safe; one Ctx per load. Only proxy/config includes this header,
// so toml++ never leaks into the rest of the tree.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/values.h"

namespace sluice::config::detail {

struct Pos {
  uint32_t line = 0;  // 0 = unknown
  uint32_t col = 0;
};

inline Pos pos_of(const toml::source_region& r) {
  return {r.begin.line, r.begin.column};
}
inline Pos pos_of(const toml::node& n) {
  return pos_of(n.source());
}

// Collects diagnostics for one load.
class Sink {
 public:
  explicit Sink(std::string file) : file_(std::move(file)) {}
  void error(Pos p, std::string key, std::string message) {
    add(false, p, std::move(key), std::move(message));
  }
  void warn(Pos p, std::string key, std::string message) {
    add(true, p, std::move(key), std::move(message));
  }
  bool has_errors() const { return !errors_.empty(); }
  size_t error_count() const { return errors_.size(); }
  // Both lists sorted by position (stable; position-less entries last).
  LoadResult finish(std::shared_ptr<const Config> config);

 private:
  void add(bool warning, Pos p, std::string key, std::string message);
  std::string file_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

struct Ctx {
  Sink& sink;
  std::string base_dir;  // directory of the config file; relative paths are resolved against it
  bool check_files = true;

  void error(const toml::node& n, const std::string& key, std::string message) {
    sink.error(pos_of(n), key, std::move(message));
  }
  void warn(const toml::node& n, const std::string& key, std::string message) {
    sink.warn(pos_of(n), key, std::move(message));
  }
  std::string resolve(const std::string& path) const;
};

// Key paths as printed in diagnostics: pool.blue.servers[1], headers."X.Y".
std::string join(const std::string& parent, std::string_view key);
std::string index(const std::string& parent, size_t i);

// "a string (\"x\")", "an integer (5)", "a table", ...
std::string describe(const toml::node& n);
// Reports "expected WHAT, got ..." and returns false when `n` is not of type `want`.
bool expect(Ctx& c, const toml::node& n, const std::string& key, toml::node_type want,
            std::string_view what);
// The array of tables ([[key]]) `n` must be, or nullptr after reporting it.
const toml::array* expect_tables(Ctx& c, const toml::node& n, const std::string& key);

// The keys a table contained, where, and whether each read without error:
// what checks spanning several keys need.
class Seen {
 public:
  Pos table;
  void add(std::string_view key, Pos value, bool ok) {
    keys_.push_back({std::string(key), value, ok});
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // True when `key` is absent (the default stands) or was read cleanly.
  bool ok(std::string_view key) const { return find(key) == nullptr || find(key)->ok; }
  Pos at(std::string_view key) const {
    return has(key) ? find(key)->pos : table;
  }  // else the table's

 private:
  struct Entry {
    std::string key;
    Pos pos;
    bool ok;
  };
  const Entry* find(std::string_view key) const;
  std::vector<Entry> keys_;
};

template <class T>
using Reader = std::function<void(Ctx&, const toml::node&, const std::string& key, T&)>;

template <class T>
struct Field {
  std::string_view name;
  bool required = false;
  Reader<T> read;
};

inline constexpr bool kRequired = true;

void report_unknown_key(Ctx& c, const toml::key& k, const std::string& key,
                        const std::vector<std::string>& known);

template <class T>
Seen read_table(Ctx& c, const toml::table& t, const std::string& path,
                const std::vector<Field<T>>& fields, T& out) {
  Seen seen;
  seen.table = pos_of(t);
  for (auto&& [k, v] : t) {
    const std::string key = join(path, k.str());
    const Field<T>* f = nullptr;
    for (const auto& candidate : fields)
      if (candidate.name == k.str()) f = &candidate;
    if (f == nullptr) {
      std::vector<std::string> known;
      for (const auto& candidate : fields) known.emplace_back(candidate.name);
      report_unknown_key(c, k, key, known);
      continue;
    }
    const size_t errors_before = c.sink.error_count();
    f->read(c, v, key, out);
    seen.add(k.str(), pos_of(v), c.sink.error_count() == errors_before);
  }
  for (const auto& f : fields)
    if (f.required && !seen.has(f.name))
      c.sink.error(seen.table, join(path, f.name), "required key is missing");
  return seen;
}

// Checks that `n` is a table (saying how to write it) and reads it.
template <class T>
std::optional<Seen> read_subtable(Ctx& c, const toml::node& n, const std::string& key,
                                  const std::vector<Field<T>>& fields, T& out) {
  if (!expect(c, n, key, toml::node_type::table, "a table")) return std::nullopt;
  return read_table(c, *n.as_table(), key, fields, out);
}

// ---- value readers: callables (Ctx&, const toml::node&, key) -> std::optional<X> ----

template <class X>
using ValueReader = std::function<std::optional<X>(Ctx&, const toml::node&, const std::string&)>;

ValueReader<bool> boolean();
ValueReader<double> ratio();  // a float or integer in [0, 1]
ValueReader<Duration> duration(Duration min);
ValueReader<uint64_t> size(uint64_t min, uint64_t max);
// A string passed through `check` (see values.h), which may normalize it.
ValueReader<std::string> string(std::function<std::string(std::string&)> check = nullptr);
ValueReader<std::string> one_of(std::vector<std::string> allowed);
enum class PathKind { Any, ReadableFile, Directory };
// A non-empty path, resolved against the config file's directory; with
// check_files, also checked on disk.
ValueReader<std::string> path(PathKind kind);
// host:port; `listen` requires an IP literal host.
ValueReader<Endpoint> endpoint(bool listen);

std::optional<int64_t> read_integer(Ctx& c, const toml::node& n, const std::string& key, int64_t lo,
                                    int64_t hi);

template <class X>
ValueReader<X> integer(int64_t lo,
                       int64_t hi = static_cast<int64_t>(std::numeric_limits<X>::max())) {
  return [lo, hi](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<X> {
    if (auto v = read_integer(c, n, key, lo, hi)) return static_cast<X>(*v);
    return std::nullopt;
  };
}

// An array whose elements all pass `elem`; `empty_message` non-empty makes an
// empty array an error with that message.
template <class X>
ValueReader<std::vector<X>> array_of(ValueReader<X> elem, std::string empty_message = {}) {
  return [elem, empty_message](Ctx& c, const toml::node& n,
                               const std::string& key) -> std::optional<std::vector<X>> {
    if (!expect(c, n, key, toml::node_type::array, "an array")) return std::nullopt;
    const toml::array& a = *n.as_array();
    if (a.empty() && !empty_message.empty()) {
      c.error(n, key, empty_message);
      return std::nullopt;
    }
    std::vector<X> out;
    bool ok = true;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto v = elem(c, a[i], index(key, i)))
        out.push_back(std::move(*v));
      else
        ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  };
}

// ---- field factories ----

// Runs after a nested table was read, with the positions of the keys it held.
template <class S>
using TableCheck = std::function<void(Ctx&, const Seen&, const std::string& key, S&)>;

template <class T>
struct Fields {
  // Stores what `read` accepts into out.*m (m may belong to a base of T).
  template <class C, class M, class X>
  static Field<T> set(std::string_view name, M C::*m, ValueReader<X> read, bool required = false) {
    static_assert(std::is_base_of_v<C, T>);
    return {name, required, [m, read](Ctx& c, const toml::node& n, const std::string& key, T& out) {
              if (auto v = read(c, n, key)) out.*m = M(std::move(*v));
            }};
  }

  static Field<T> custom(std::string_view name, Reader<T> read, bool required = false) {
    return {name, required, std::move(read)};
  }

  // A nested table read with its own schema, then `check`.
  template <class C, class S>
  static Field<T> table(std::string_view name, S C::*m, const std::vector<Field<S>>& fields,
                        std::type_identity_t<TableCheck<S>> check = nullptr) {
    return {name, false,
            [m, &fields, check](Ctx& c, const toml::node& n, const std::string& key, T& out) {
              if (auto seen = read_subtable(c, n, key, fields, out.*m); seen && check)
                check(c, *seen, key, out.*m);
            }};
  }

  // Like table(), for std::optional<S> members: present when the table is.
  template <class C, class S>
  static Field<T> optional_table(std::string_view name, std::optional<S> C::*m,
                                 const std::vector<Field<S>>& fields,
                                 std::type_identity_t<TableCheck<S>> check = nullptr) {
    return {name, false,
            [m, &fields, check](Ctx& c, const toml::node& n, const std::string& key, T& out) {
              S& s = (out.*m).emplace();
              if (auto seen = read_subtable(c, n, key, fields, s); seen && check)
                check(c, *seen, key, s);
            }};
  }

  // An array of tables ([[name]]) each read with `fields`.
  template <class C, class S>
  static Field<T> tables(std::string_view name, std::vector<S> C::*m,
                         const std::vector<Field<S>>& fields) {
    return {name, false, [m, &fields](Ctx& c, const toml::node& n, const std::string& key, T& out) {
              const toml::array* a = expect_tables(c, n, key);
              for (size_t i = 0; a != nullptr && i < a->size(); ++i)
                read_table(c, *(*a)[i].as_table(), index(key, i), fields, (out.*m).emplace_back());
            }};
  }
};

}  // namespace sluice::config::detail
