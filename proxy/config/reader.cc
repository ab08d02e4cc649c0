// The generic half of the loader: diagnostics, key paths and value readers.
// The schema itself (which keys exist, their ranges) lives in config.cc.
#include "proxy/config/reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace sluice::config::detail {

void Sink::add(bool warning, Pos p, std::string key, std::string message) {
  Diagnostic d;
  d.file = file_;
  d.line = p.line;
  d.col = p.line == 0 ? 0 : p.col;
  d.key = std::move(key);
  d.message = std::move(message);
  d.warning = warning;
  (warning ? warnings_ : errors_).push_back(std::move(d));
}

LoadResult Sink::finish(std::shared_ptr<const Config> config) {
  auto by_position = [](const Diagnostic& a, const Diagnostic& b) {
    // Position-less problems (a missing section) concern the whole file: last.
    auto rank = [](const Diagnostic& d) { return std::make_tuple(d.line == 0, d.line, d.col); };
    return rank(a) < rank(b);
  };
  std::stable_sort(errors_.begin(), errors_.end(), by_position);
  std::stable_sort(warnings_.begin(), warnings_.end(), by_position);
  LoadResult r;
  r.errors = std::move(errors_);
  r.warnings = std::move(warnings_);
  if (r.errors.empty()) r.config = std::move(config);
  return r;
}

std::string Ctx::resolve(const std::string& p) const {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return base_dir.back() == '/' ? base_dir + p : base_dir + "/" + p;
}

std::string join(const std::string& parent, std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
  std::string k = bare ? std::string(key) : quote(key);
  return parent.empty() ? k : parent + "." + k;
}

std::string index(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string (" + quote(n.as_string()->get()) + ")";
    case toml::node_type::integer:
      return "an integer (" + std::to_string(n.as_integer()->get()) + ")";
    case toml::node_type::floating_point: {
      std::ostringstream os;
      os << n.as_floating_point()->get();
      std::string v = os.str();
      if (v.find_first_of(".eain") == std::string::npos) v += ".0";  // 4.0 must not read as "4"
      return "a float (" + v + ")";
    }
    case toml::node_type::boolean:
      return std::string("a boolean (") + (n.as_boolean()->get() ? "true" : "false") + ")";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool expect(Ctx& c, const toml::node& n, const std::string& key, toml::node_type want,
            std::string_view what) {
  if (n.type() == want) return true;
  c.error(n, key, "expected " + std::string(what) + ", got " + describe(n));
  return false;
}

const toml::array* expect_tables(Ctx& c, const toml::node& n, const std::string& key) {
  const toml::array* a = n.as_array();
  if (a != nullptr && (a->empty() || a->is_array_of_tables())) return a;
  c.error(n, key, "expected an array of tables ([[" + key + "]]), got " + describe(n));
  return nullptr;
}

const Seen::Entry* Seen::find(std::string_view key) const {
  for (const Entry& e : keys_)
    if (e.key == key) return &e;
  return nullptr;
}

void report_unknown_key(Ctx& c, const toml::key& k, const std::string& key,
                        const std::vector<std::string>& known) {
  std::string msg = "unknown key";
  if (std::string near = closest(k.str(), known); !near.empty())
    msg += "; did you mean " + quote(near) + "?";
  else if (!known.empty())
    msg += "; expected " + list_words(known, true);
  c.sink.error(pos_of(k.source()), key, msg);
}

std::optional<int64_t> read_integer(Ctx& c, const toml::node& n, const std::string& key, int64_t lo,
                                    int64_t hi) {
  if (!expect(c, n, key, toml::node_type::integer, "an integer")) return std::nullopt;
  const int64_t v = n.as_integer()->get();
  if (v >= lo && v <= hi) return v;
  std::string range =
      hi == std::numeric_limits<int64_t>::max() || hi == std::numeric_limits<uint32_t>::max()
          ? "at least " + std::to_string(lo)
          : "between " + std::to_string(lo) + " and " + std::to_string(hi);
  c.error(n, key, "must be " + range + ", got " + std::to_string(v));
  return std::nullopt;
}

ValueReader<bool> boolean() {
  return [](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<bool> {
    if (!expect(c, n, key, toml::node_type::boolean, "true or false")) return std::nullopt;
    return n.as_boolean()->get();
  };
}

ValueReader<double> ratio() {
  return [](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<double> {
    double v = 0;
    if (n.is_floating_point())
      v = n.as_floating_point()->get();
    else if (n.is_integer())
      v = static_cast<double>(n.as_integer()->get());
    else {
      c.error(n, key, "expected a number between 0 and 1, got " + describe(n));
      return std::nullopt;
    }
    if (!(v >= 0.0 && v <= 1.0)) {  // also refuses nan
      std::ostringstream os;
      os << v;
      c.error(n, key, "must be between 0 and 1 (a fraction: 0.05 means 5%), got " + os.str());
      return std::nullopt;
    }
    return v;
  };
}

ValueReader<Duration> duration(Duration min) {
  return [min](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<Duration> {
    if (n.is_integer()) {
      const std::string v = std::to_string(n.as_integer()->get());
      c.error(n, key,
              "a unit is required: write \"" + v + "s\" or \"" + v +
                  "ms\" (units: ms, s, m, h), not " + v);
      return std::nullopt;
    }
    if (!expect(c, n, key, toml::node_type::string, "a duration such as \"30s\""))
      return std::nullopt;
    std::string why;
    auto d = detail::parse_duration(n.as_string()->get(), why);
    if (!d) {
      c.error(n, key, why);
      return std::nullopt;
    }
    if (*d < min) {
      c.error(n, key,
              min == Duration(1) ? "must be greater than 0"
                                 : "must be at least " + format_duration(min));
      return std::nullopt;
    }
    return d;
  };
}

ValueReader<uint64_t> size(uint64_t min, uint64_t max) {
  return
      [min, max](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<uint64_t> {
        std::optional<uint64_t> v;
        if (n.is_integer()) {
          if (n.as_integer()->get() < 0) {
            c.error(n, key, "must not be negative, got " + std::to_string(n.as_integer()->get()));
            return std::nullopt;
          }
          v = static_cast<uint64_t>(n.as_integer()->get());
        } else if (n.is_string()) {
          std::string why;
          v = detail::parse_size(n.as_string()->get(), why);
          if (!v) {
            c.error(n, key, why);
            return std::nullopt;
          }
        } else {
          c.error(n, key, "expected a size such as 16384 or \"10m\", got " + describe(n));
          return std::nullopt;
        }
        if (*v < min || *v > max) {
          std::string range =
              max == std::numeric_limits<uint64_t>::max()
                  ? "at least " + std::to_string(min) + (min == 1 ? " byte" : " bytes")
                  : "between " + std::to_string(min) + " and " + std::to_string(max) + " bytes";
          c.error(n, key, "must be " + range + ", got " + std::to_string(*v));
          return std::nullopt;
        }
        return v;
      };
}

ValueReader<std::string> string(std::function<std::string(std::string&)> check) {
  return
      [check](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<std::string> {
        if (!expect(c, n, key, toml::node_type::string, "a string")) return std::nullopt;
        std::string s = n.as_string()->get();
        if (check) {
          if (std::string why = check(s); !why.empty()) {
            c.error(n, key, why);
            return std::nullopt;
          }
        }
        return s;
      };
}

ValueReader<std::string> one_of(std::vector<std::string> allowed) {
  return string([allowed](std::string& s) -> std::string {
    if (std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return "";
    return "must be " + list_words(allowed, true) + ", got " + quote(s);
  });
}

namespace {

std::string check_on_disk(const std::string& p, PathKind kind) {
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return "cannot access " + quote(p) + ": " + std::strerror(errno);
  if (kind == PathKind::Directory) {
    if (!S_ISDIR(st.st_mode)) return quote(p) + " is not a directory";
    if (access(p.c_str(), R_OK | X_OK) != 0)
      return "cannot read directory " + quote(p) + ": " + std::strerror(errno);
  } else if (kind == PathKind::ReadableFile) {
    if (S_ISDIR(st.st_mode)) return quote(p) + " is a directory, not a file";
    if (access(p.c_str(), R_OK) != 0)
      return "cannot read " + quote(p) + ": " + std::strerror(errno);
  }
  return "";
}

}  // namespace

ValueReader<std::string> path(PathKind kind) {
  return [kind](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<std::string> {
    auto s = string(check_not_empty)(c, n, key);
    if (!s) return std::nullopt;
    std::string p = c.resolve(*s);
    if (c.check_files && kind != PathKind::Any) {
      if (std::string why = check_on_disk(p, kind); !why.empty()) {
        c.error(n, key, why);
        return std::nullopt;
      }
    }
    return p;
  };
}

ValueReader<Endpoint> endpoint(bool listen) {
  return [listen](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<Endpoint> {
    if (!expect(c, n, key, toml::node_type::string, "a string such as \"127.0.0.1:8080\""))
      return std::nullopt;
    const std::string& s = n.as_string()->get();
    std::string why;
    auto e = detail::parse_endpoint(s, why);
    if (!e) {
      c.error(n, key, why);
      return std::nullopt;
    }
    if (listen && !is_ip_literal(*e)) {
      c.error(n, key,
              quote(s) +
                  " is not a valid listen address: the host must be an IP address such as 0.0.0.0, "
                  "127.0.0.1, [::] or "
                  "[::1], not a host name");
      return std::nullopt;
    }
    return e;
  };
}

}  // namespace sluice::config::detail
