// TOML -> validated Config. Three steps, all collecting problems rather than
// stopping at the first:
//   1. read:     every table through its schema below (reader.h does the work);
//   2. validate: checks that span keys or sections (listener vs [tls], route vs
//                pools, duplicates), and name -> index resolution;
//   3. build:    slice the drafts into the immutable Config.
// Any error means no Config: reload is all or nothing (STYLE practice 3).
#include "proxy/config/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "proxy/config/reader.h"
#include "proxy/config/values.h"
#include "tls/certificate.h"

namespace sluice::config {

using namespace std::chrono_literals;
using namespace detail;

namespace {

// ---- drafts: the public structs plus what validation needs (positions, raw names) ----

struct ListenerDraft : Listener {
  std::string key;  // "listener[0]"
  Seen seen;
};

struct PoolDraft : Pool {
  std::string key;  // "pool.blue"
  Pos pos;
};

struct SplitRaw {
  std::string pool;
  uint32_t weight = 0;
  Pos pos;  // of the pool name
  std::string key;
};

struct RouteDraft : Route {
  std::string key;  // "route[0]"
  Seen seen;
  std::vector<SplitRaw> split_raw;  // file order
  std::string baseline_name;
};

struct Draft : Config {
  std::vector<ListenerDraft> listener_drafts;
  std::vector<PoolDraft> pool_drafts;
  std::vector<RouteDraft> route_drafts;
  bool has_listener = false, has_pool = false,
       has_route = false;  // section present (even if malformed)
  bool has_headers = false;
  Seen tls_seen;
};

// ---- custom value readers ----

ValueReader<std::string> access_log() {
  return [](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<std::string> {
    auto s = string(check_not_empty)(c, n, key);
    if (s && *s != "-" && *s != "off") return c.resolve(*s);
    return s;
  };
}

ValueReader<std::string> socket_path() {
  return [](Ctx& c, const toml::node& n, const std::string& key) -> std::optional<std::string> {
    auto p = path(PathKind::Any)(c, n, key);
    if (p && p->size() > 107) {  // sizeof(sockaddr_un::sun_path) - 1
      c.error(n, key,
              "Unix socket path is " + std::to_string(p->size()) + " bytes; the limit is 107");
      return std::nullopt;
    }
    return p;
  };
}

// Pool servers; a server listed twice is allowed (it gets twice the share) but
// is usually a mistake, so it is a warning.
ValueReader<std::vector<Endpoint>> servers() {
  return [](Ctx& c, const toml::node& n,
            const std::string& key) -> std::optional<std::vector<Endpoint>> {
    auto list = array_of(endpoint(/*listen=*/false), "must list at least one server")(c, n, key);
    for (size_t i = 0; list && i < list->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((*list)[i].host == (*list)[j].host && (*list)[i].port == (*list)[j].port) {
          c.warn((*n.as_array())[i], index(key, i),
                 "same server as " + index(key, j) + "; it will get twice the traffic");
          break;
        }
    return list;
  };
}

ValueReader<std::vector<uint32_t>> rollout_steps() {
  return [](Ctx& c, const toml::node& n,
            const std::string& key) -> std::optional<std::vector<uint32_t>> {
    if (!expect(c, n, key, toml::node_type::array,
                "an array of percentages such as [1, 5, 25, 50, 100]"))
      return std::nullopt;
    const toml::array& a = *n.as_array();
    if (a.empty()) {
      c.error(n, key, "must list at least one step, e.g. [1, 5, 25, 50, 100]");
      return std::nullopt;
    }
    std::vector<uint32_t> steps;
    bool ok = true;
    std::optional<uint32_t> prev;
    for (size_t i = 0; i < a.size(); ++i) {
      auto v = integer<uint32_t>(0, 100)(c, a[i], index(key, i));
      if (!v) {
        ok = false;
        continue;
      }
      if (prev && *v <= *prev) {
        c.error(a[i], index(key, i),
                "steps must be in ascending order, but " + std::to_string(*v) + " comes after " +
                    std::to_string(*prev));
        ok = false;
      }
      prev = v;
      steps.push_back(*v);
    }
    if (!ok) return std::nullopt;
    return steps;
  };
}

// ---- schemas ----

const std::vector<Field<Global>>& global_fields() {
  using F = Fields<Global>;
  static const std::vector<Field<Global>> f = {
      F::set("workers", &Global::workers, integer<unsigned>(0, 1024)),
      F::set("user", &Global::user, string()),
      F::set("state_dir", &Global::state_dir, path(PathKind::Any)),
      F::set("drain_timeout", &Global::drain_timeout, duration(0ms)),
      F::set("access_log", &Global::access_log, access_log()),
  };
  return f;
}

const std::vector<Field<Admin>>& admin_fields() {
  using F = Fields<Admin>;
  static const std::vector<Field<Admin>> f = {
      F::set("socket", &Admin::socket, socket_path()),
      F::set("allow_uids", &Admin::allow_uids, array_of(integer<uint32_t>(0, 4294967294))),
      F::set("metrics_listen", &Admin::metrics_listen, endpoint(/*listen=*/true)),
  };
  return f;
}

const std::vector<Field<Limits>>& limits_fields() {
  using F = Fields<Limits>;
  static const std::vector<Field<Limits>> f = {
      F::set("max_connections", &Limits::max_connections, integer<uint32_t>(1)),
      F::set("client_header_timeout", &Limits::client_header_timeout, duration(1ms)),
      F::set("client_body_timeout", &Limits::client_body_timeout, duration(1ms)),
      F::set("client_send_timeout", &Limits::client_send_timeout, duration(1ms)),
      F::set("keepalive_timeout", &Limits::keepalive_timeout, duration(0ms)),  // 0 = no keep-alive
      F::set("max_header_bytes", &Limits::max_header_bytes, size(1024, 1 << 20)),
      F::set("max_body_bytes", &Limits::max_body_bytes, size(1, UINT64_MAX)),
  };
  return f;
}

const std::vector<Field<ListenerDraft>>& listener_fields() {
  using F = Fields<ListenerDraft>;
  static const std::vector<Field<ListenerDraft>> f = {
      F::custom(
          "listen",
          [](Ctx& c, const toml::node& n, const std::string& key, ListenerDraft& l) {
            if (auto e = endpoint(/*listen=*/true)(c, n, key)) {
              l.listen = n.as_string()->get();
              l.addr = *e;
            }
          },
          kRequired),
      F::set("tls", &Listener::tls, boolean()),
      F::set("redirect_https", &Listener::redirect_https, boolean()),
      F::set("https_port", &Listener::https_port, integer<uint16_t>(1, 65535)),
      F::set("acme_webroot", &Listener::acme_webroot, path(PathKind::Directory)),
  };
  return f;
}

const std::vector<Field<Certificate>>& certificate_fields() {
  using F = Fields<Certificate>;
  static const std::vector<Field<Certificate>> f = {
      F::set("cert", &Certificate::cert, path(PathKind::ReadableFile), kRequired),
      F::set("key", &Certificate::key, path(PathKind::ReadableFile), kRequired),
  };
  return f;
}

// [[tls.certificate]]: each entry read like any table, then, when files are
// checked, handed to the TLS layer: key matches certificate, chain order,
// expiry (an error once expired, a warning within 14 days).
void read_certificates(Ctx& c, const toml::node& n, const std::string& key, Tls& out) {
  const toml::array* a = expect_tables(c, n, key);
  for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
    const std::string entry = index(key, i);
    Certificate& cert = out.certificates.emplace_back();
    Seen seen = read_table(c, *(*a)[i].as_table(), entry, certificate_fields(), cert);
    if (!c.check_files || !seen.has("cert") || !seen.has("key") || !seen.ok("cert") ||
        !seen.ok("key")) {
      continue;
    }
    tls::CertificateCheck check = tls::check_certificate(cert.cert, cert.key);
    for (const std::string& e : check.errors) c.sink.error(seen.at("cert"), join(entry, "cert"), e);
    for (const std::string& w : check.warnings)
      c.sink.warn(seen.at("cert"), join(entry, "cert"), w);
  }
}

const std::vector<Field<Tls>>& tls_fields() {
  using F = Fields<Tls>;
  static const std::vector<Field<Tls>> f = {
      F::set("min_version", &Tls::min_version, one_of({"1.2", "1.3"})),
      F::set("ciphers", &Tls::ciphers, string(check_not_empty)),
      F::set("ciphersuites", &Tls::ciphersuites, string(check_not_empty)),
      {"certificate", false, read_certificates},
  };
  return f;
}

const std::vector<Field<HealthCheck>>& health_check_fields() {
  using F = Fields<HealthCheck>;
  static const std::vector<Field<HealthCheck>> f = {
      F::set("path", &HealthCheck::path, string(check_http_path)),
      F::set("interval", &HealthCheck::interval, duration(1ms)),
      F::set("timeout", &HealthCheck::timeout, duration(1ms)),
      F::set("unhealthy", &HealthCheck::unhealthy, integer<uint32_t>(1, 1000)),
      F::set("healthy", &HealthCheck::healthy, integer<uint32_t>(1, 1000)),
  };
  return f;
}

void check_health_check(Ctx& c, const Seen& seen, const std::string& key, HealthCheck& h) {
  if (h.timeout >= h.interval)
    c.sink.warn(seen.at("timeout"), join(key, "timeout"),
                "timeout (" + format_duration(h.timeout) + ") is not shorter than interval (" +
                    format_duration(h.interval) + "); checks will overlap");
}

const std::vector<Field<Pool>>& pool_fields() {
  using F = Fields<Pool>;
  static const std::vector<Field<Pool>> f = {
      F::set("servers", &Pool::servers, servers(), kRequired),
      F::set("keepalive", &Pool::keepalive, integer<uint32_t>(0, 65535)),
      F::set("connect_timeout", &Pool::connect_timeout, duration(1ms)),
      F::set("read_timeout", &Pool::read_timeout, duration(1ms)),
      F::optional_table("health_check", &Pool::health_check, health_check_fields(),
                        check_health_check),
  };
  return f;
}

const std::vector<Field<Rollback>>& rollback_fields() {
  using F = Fields<Rollback>;
  static const std::vector<Field<Rollback>> f = {
      F::set("error_rate", &Rollback::error_rate, ratio()),
      F::set("min_requests", &Rollback::min_requests, integer<uint32_t>(1)),
      F::set("window", &Rollback::window, duration(1ms)),
      F::set("p99_latency", &Rollback::p99_latency, duration(1ms)),
  };
  return f;
}

const std::vector<Field<Rollout>>& rollout_fields() {
  using F = Fields<Rollout>;
  static const std::vector<Field<Rollout>> f = {
      F::set("steps", &Rollout::steps, rollout_steps()),
      F::set("interval", &Rollout::interval, duration(1ms)),
  };
  return f;
}

void default_rollout_steps(Ctx&, const Seen& seen, const std::string&, Rollout& r) {
  if (!seen.has("steps")) r.steps = {1, 5, 25, 50, 100};
}

void read_split(Ctx& c, const toml::node& n, const std::string& key, RouteDraft& r) {
  if (!expect(c, n, key, toml::node_type::table,
              "a table of pool weights such as { blue = 95, canary = 5 }"))
    return;
  for (auto&& [k, v] : *n.as_table()) {
    const std::string entry = join(key, k.str());
    if (auto w = integer<uint32_t>(0, 1'000'000)(c, v, entry))
      r.split_raw.push_back({std::string(k.str()), *w, pos_of(k.source()), entry});
  }
  // toml++ keeps keys sorted; the struct promises file order.
  std::stable_sort(r.split_raw.begin(), r.split_raw.end(),
                   [](const SplitRaw& a, const SplitRaw& b) {
                     return std::tie(a.pos.line, a.pos.col) < std::tie(b.pos.line, b.pos.col);
                   });
}

void read_sticky(Ctx& c, const toml::node& n, const std::string& key, RouteDraft& r) {
  auto s = string()(c, n, key);
  if (!s) return;
  if (*s == "none")
    r.sticky = Sticky::None;
  else if (*s == "cookie")
    r.sticky = Sticky::Cookie;
  else if (*s == "ip")
    r.sticky = Sticky::Ip;
  else if (s->rfind("header:", 0) == 0) {
    std::string name = s->substr(7);
    if (name.empty())
      return c.error(n, key, "\"header:\" needs a header name, e.g. \"header:X-User-Id\"");
    if (std::string why = normalize_header_name(name); !why.empty()) return c.error(n, key, why);
    r.sticky = Sticky::Header;
    r.sticky_header = name;
  } else {
    c.error(n, key, "must be \"none\", \"cookie\", \"ip\" or \"header:NAME\", got " + quote(*s));
  }
}

const std::vector<Field<RouteDraft>>& route_fields() {
  using F = Fields<RouteDraft>;
  static const std::vector<Field<RouteDraft>> f = {
      F::set("name", &Route::name, string(check_name), kRequired),
      F::set("hosts", &Route::hosts, array_of(string(normalize_host_pattern))),
      F::set("path_prefix", &Route::path_prefix, string(check_http_path)),
      F::custom("split", read_split, kRequired),
      F::set("baseline", &RouteDraft::baseline_name, string(check_not_empty)),
      F::custom("sticky", read_sticky),
      F::set("force_header", &Route::force_header, string(normalize_header_name)),
      F::table("rollback", &Route::rollback, rollback_fields()),
      F::optional_table("rollout", &Route::rollout, rollout_fields(), default_rollout_steps),
  };
  return f;
}

// [[listener]] and [[route]]: arrays of tables whose drafts keep their key and positions.
template <class D>
void read_drafts(Ctx& c, const toml::node& n, const std::string& key,
                 const std::vector<Field<D>>& fields, std::vector<D>& out) {
  const toml::array* a = expect_tables(c, n, key);
  if (a == nullptr) return;
  if (a->empty()) {
    c.error(n, key, "is empty; define at least one [[" + key + "]]");
    return;
  }
  for (size_t i = 0; i < a->size(); ++i) {
    D& d = out.emplace_back();
    d.key = index(key, i);
    d.seen = read_table(c, *(*a)[i].as_table(), d.key, fields, d);
  }
}

void read_pools(Ctx& c, const toml::node& n, const std::string& key, Draft& d) {
  d.has_pool = true;
  if (n.is_array()) {
    c.error(n, key, "expected one table per pool ([pool.NAME], e.g. [pool.blue]), got an array");
    return;
  }
  if (!expect(c, n, key, toml::node_type::table, "one table per pool ([pool.NAME])")) return;
  if (n.as_table()->empty()) c.error(n, key, "is empty; define at least one [pool.NAME]");
  for (auto&& [k, v] : *n.as_table()) {
    const std::string pkey = join(key, k.str());
    if (std::string why = check_name(std::string(k.str())); !why.empty()) {
      c.sink.error(pos_of(k.source()), pkey, "pool " + why);
      continue;
    }
    if (!v.is_table()) {
      c.error(v, pkey,
              "expected a table ([" + pkey + "] with servers = [...]), got " + describe(v));
      continue;
    }
    PoolDraft& p = d.pool_drafts.emplace_back();
    p.name = std::string(k.str());
    p.key = pkey;
    p.pos = pos_of(v).line != 0 ? pos_of(v) : pos_of(k.source());
    read_table<Pool>(c, *v.as_table(), pkey, pool_fields(), p);
  }
}

// Response headers sluice owns: setting them on every response would break
// message framing or connection management.
bool is_managed_header(const std::string& lower) {
  static const char* const kManaged[] = {
      "connection", "content-length", "keep-alive",        "proxy-connection",
      "te",         "trailer",        "transfer-encoding", "upgrade"};
  return std::any_of(std::begin(kManaged), std::end(kManaged),
                     [&](const char* m) { return lower == m; });
}

void read_headers(Ctx& c, const toml::node& n, const std::string& key, Draft& d) {
  if (!expect(c, n, key, toml::node_type::table, "a table of header names and values")) return;
  d.has_headers = true;
  bool has_strip = false;
  // toml++ iterates keys sorted; walk them in file order so that header order
  // is kept and a case-insensitive duplicate is reported at its second use.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [k, v] : *n.as_table()) entries.emplace_back(&k, &v);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const Pos pa = pos_of(a.first->source()), pb = pos_of(b.first->source());
    return std::tie(pa.line, pa.col) < std::tie(pb.line, pb.col);
  });
  std::map<std::string, std::pair<Pos, std::string>> first;  // lower-case name -> where, as written
  for (auto [kp, vp] : entries) {
    const toml::key& k = *kp;
    const toml::node& v = *vp;
    const std::string hkey = join(key, k.str());
    const Pos kpos = pos_of(k.source());
    if (k.str() == "strip") {
      has_strip = true;
      if (auto names = array_of(string(normalize_header_name))(c, v, hkey)) {
        d.headers.strip.clear();
        for (auto& s : *names)
          if (std::find(d.headers.strip.begin(), d.headers.strip.end(), s) == d.headers.strip.end())
            d.headers.strip.push_back(s);
      }
      continue;
    }
    std::string name(k.str());
    if (std::string why = check_header_name(name); !why.empty()) {
      c.sink.error(kpos, hkey, why);
      continue;
    }
    const std::string lower = to_lower(name);
    if (is_managed_header(lower)) {
      c.sink.error(kpos, hkey,
                   "sluice manages " + quote(name) + " itself; it cannot be set in [headers]");
      continue;
    }
    auto value = string(check_header_value)(c, v, hkey);
    if (auto it = first.find(lower); it != first.end()) {
      c.sink.error(kpos, hkey,
                   quote(name) + " is already set at line " +
                       std::to_string(it->second.first.line) + " as " + quote(it->second.second) +
                       " (header names are case-insensitive)");
      continue;
    }
    first.emplace(lower, std::make_pair(kpos, name));
    if (value) d.headers.set.push_back(Header{name, *value});
  }
  if (!has_strip) d.headers.strip = {"server", "x-powered-by"};
}

const std::vector<Field<Draft>>& root_fields() {
  using F = Fields<Draft>;
  static const std::vector<Field<Draft>> f = {
      F::table("global", &Config::global, global_fields()),
      F::table("admin", &Config::admin, admin_fields()),
      F::table("limits", &Config::limits, limits_fields()),
      F::custom("listener",
                [](Ctx& c, const toml::node& n, const std::string& key, Draft& d) {
                  d.has_listener = true;
                  read_drafts(c, n, key, listener_fields(), d.listener_drafts);
                }),
      F::custom("tls",
                [](Ctx& c, const toml::node& n, const std::string& key, Draft& d) {
                  Tls tls;
                  if (auto seen = read_subtable(c, n, key, tls_fields(), tls)) {
                    d.tls = std::move(tls);
                    d.tls_seen = *seen;
                  }
                }),
      F::custom("headers", read_headers),
      F::custom("pool", read_pools),
      F::custom("route",
                [](Ctx& c, const toml::node& n, const std::string& key, Draft& d) {
                  d.has_route = true;
                  read_drafts(c, n, key, route_fields(), d.route_drafts);
                }),
  };
  return f;
}

// ---- validation across keys and sections ----

std::string line_ref(Pos p) {
  return p.line ? " at line " + std::to_string(p.line) : "";
}

// Bytes of the address + port, so "[::0]:80" and "[::]:80" compare equal.
std::string address_key(const Endpoint& e) {
  unsigned char buf[16] = {};
  inet_pton(e.ipv6 ? AF_INET6 : AF_INET, e.host.c_str(), buf);
  return std::string(e.ipv6 ? "6" : "4") +
         std::string(reinterpret_cast<char*>(buf), e.ipv6 ? 16 : 4) + ":" + std::to_string(e.port);
}

void validate_listeners(Ctx& c, Draft& d) {
  if (!d.has_listener)
    c.sink.error({}, "listener",
                 "no [[listener]] defined; at least one address to listen on is required");
  const bool has_certs = d.tls && !d.tls->certificates.empty();
  bool any_tls = false;
  std::map<std::string, const ListenerDraft*> addresses;
  for (const ListenerDraft& l : d.listener_drafts) {
    any_tls |= l.tls;
    if (l.tls && l.redirect_https)
      c.sink.error(
          l.seen.at("redirect_https"), join(l.key, "redirect_https"),
          "a listener cannot both serve TLS and redirect to HTTPS; use one listener for each");
    if (l.tls && !has_certs)
      c.sink.error(l.seen.at("tls"), join(l.key, "tls"),
                   d.tls ? "tls = true, but [tls] has no [[tls.certificate]]"
                         : "tls = true needs a [tls] table with at least one [[tls.certificate]]");
    if (l.seen.has("https_port") && !l.redirect_https)
      c.sink.warn(l.seen.at("https_port"), join(l.key, "https_port"),
                  "has no effect without redirect_https = true");
    if (!l.seen.has("listen") || !l.seen.ok("listen")) continue;  // already reported
    auto [it, inserted] = addresses.emplace(address_key(l.addr), &l);
    if (!inserted)
      c.sink.error(l.seen.at("listen"), join(l.key, "listen"),
                   quote(l.listen) + " is already used by " + it->second->key +
                       line_ref(it->second->seen.at("listen")));
  }
  if (d.tls && !any_tls && !d.listener_drafts.empty())
    c.sink.warn(d.tls_seen.table, "tls", "[tls] is configured but no listener has tls = true");
}

void validate_pools(Ctx& c, Draft& d) {
  if (!d.has_pool)
    c.sink.error({}, "pool", "no [pool.NAME] defined; at least one upstream pool is required");
  std::sort(d.pool_drafts.begin(), d.pool_drafts.end(),
            [](const PoolDraft& a, const PoolDraft& b) { return a.name < b.name; });
  for (const PoolDraft& p : d.pool_drafts) d.pools.push_back(p);
}

std::string pool_names(const Draft& d) {
  std::vector<std::string> names;
  for (const Pool& p : d.pools) names.push_back(p.name);
  return names.empty() ? "none" : list_words(names, true, "and");
}

void validate_route_split(Ctx& c, Draft& d, RouteDraft& r, std::vector<bool>& used) {
  const bool split_ok = r.seen.has("split") && r.seen.ok("split");
  uint64_t sum = 0;
  bool resolved = split_ok;
  for (const SplitRaw& s : r.split_raw) {
    sum += s.weight;
    int idx = d.pool_index(s.pool);
    if (idx < 0) {
      c.sink.error(s.pos, s.key,
                   "unknown pool " + quote(s.pool) + " (defined pools: " + pool_names(d) + ")");
      resolved = false;
      continue;
    }
    used[idx] = true;
    r.split.push_back({static_cast<uint32_t>(idx), s.weight});
  }
  const std::string split_key = join(r.key, "split");
  if (split_ok && r.split_raw.empty())
    c.sink.error(r.seen.at("split"), split_key,
                 "is empty; give at least one pool a weight, e.g. { blue = 100 }");
  else if (split_ok && sum == 0)
    c.sink.error(r.seen.at("split"), split_key,
                 "every weight is 0; at least one pool needs a weight > 0");

  const std::string baseline_key = join(r.key, "baseline");
  bool baseline_ok = resolved;
  if (r.seen.has("baseline")) {
    int idx = d.pool_index(r.baseline_name);
    bool in_split = std::any_of(r.split_raw.begin(), r.split_raw.end(),
                                [&](const SplitRaw& s) { return s.pool == r.baseline_name; });
    if (!r.seen.ok("baseline")) {
      baseline_ok = false;  // reported by the reader
    } else if (idx < 0) {
      c.sink.error(
          r.seen.at("baseline"), baseline_key,
          "unknown pool " + quote(r.baseline_name) + " (defined pools: " + pool_names(d) + ")");
      baseline_ok = false;
    } else if (!in_split) {
      c.sink.error(r.seen.at("baseline"), baseline_key,
                   "pool " + quote(r.baseline_name) +
                       " is not in this route's split; add it there (weight 0 is fine)");
      baseline_ok = false;
    } else {
      r.baseline = static_cast<uint32_t>(idx);
    }
  } else if (!r.split.empty()) {
    // Default: the pool carrying the most traffic (first in file order on a tie).
    r.baseline = std::max_element(
                     r.split.begin(), r.split.end(),
                     [](const SplitEntry& a, const SplitEntry& b) { return a.weight < b.weight; })
                     ->pool;
  }

  if (r.rollout && baseline_ok && !r.split.empty()) {
    std::vector<std::string> others;
    for (const SplitEntry& e : r.split)
      if (e.pool != r.baseline) others.push_back(d.pools[e.pool].name);
    const std::string& base = d.pools[r.baseline].name;
    if (others.empty())
      c.sink.error(r.seen.at("rollout"), join(r.key, "rollout"),
                   "nothing to roll out: split has no pool besides the baseline " + quote(base));
    else if (others.size() > 1)
      c.sink.error(r.seen.at("rollout"), join(r.key, "rollout"),
                   "a rollout moves traffic to one pool, but split has " +
                       std::to_string(others.size()) + " besides the baseline " + quote(base) +
                       ": " + list_words(others, true, "and"));
  }
}

void validate_routes(Ctx& c, Draft& d) {
  if (!d.has_route)
    c.sink.error({}, "route", "no [[route]] defined; at least one route is required");
  std::vector<bool> used(d.pools.size());
  std::map<std::string, const RouteDraft*> names;
  std::map<std::pair<std::string, std::string>, const RouteDraft*> matches;  // (host or "", prefix)
  for (RouteDraft& r : d.route_drafts) {
    if (!r.name.empty()) {
      auto [it, inserted] = names.emplace(r.name, &r);
      if (!inserted)
        c.sink.error(r.seen.at("name"), join(r.key, "name"),
                     "duplicate route name " + quote(r.name) + " (already used by " +
                         it->second->key + line_ref(it->second->seen.at("name")) + ")");
    }
    validate_route_split(c, d, r, used);

    if (!r.seen.ok("hosts") || !r.seen.ok("path_prefix"))
      continue;  // already reported; don't guess
    std::vector<std::string> hosts = r.hosts.empty() ? std::vector<std::string>{""} : r.hosts;
    std::vector<std::string> seen_hosts;
    for (const std::string& h : hosts) {
      if (std::find(seen_hosts.begin(), seen_hosts.end(), h) != seen_hosts.end()) {
        c.sink.warn(r.seen.at("hosts"), join(r.key, "hosts"), quote(h) + " is listed twice");
        continue;
      }
      seen_hosts.push_back(h);
      auto [it, inserted] = matches.emplace(std::make_pair(h, r.path_prefix), &r);
      if (!inserted) {
        const char* where = r.hosts.empty() ? "path_prefix" : "hosts";
        c.sink.error(r.seen.at(where), join(r.key, where),
                     "matches the same " +
                         (h.empty() ? std::string("hosts (any)") : "host " + quote(h)) +
                         " and path_prefix " + quote(r.path_prefix) + " as " + it->second->key +
                         " (" + quote(it->second->name) + "), so it could never be chosen");
      }
    }
  }
  for (size_t i = 0; i < d.pools.size(); ++i)
    if (!used[i] && d.has_route) {
      const PoolDraft& p = d.pool_drafts[i];
      c.sink.warn(p.pos, p.key, "pool " + quote(p.name) + " is not used by any route");
    }
}

std::shared_ptr<const Config> build(Draft& d) {
  auto cfg = std::make_shared<Config>(static_cast<const Config&>(d));
  for (const ListenerDraft& l : d.listener_drafts) cfg->listeners.push_back(l);
  for (const RouteDraft& r : d.route_drafts) cfg->routes.push_back(r);
  return cfg;
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

int Config::pool_index(std::string_view name) const {
  auto it = std::lower_bound(pools.begin(), pools.end(), name,
                             [](const Pool& p, std::string_view n) { return p.name < n; });
  if (it == pools.end() || it->name != name) return -1;
  return static_cast<int>(it - pools.begin());
}

std::string Diagnostic::str() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(col);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  if (warning) out += "warning: ";
  out += message;
  return out;
}

LoadResult load_string(std::string_view toml, const std::string& path, bool check_files) {
  Sink sink(path);
  toml::table root;
  try {
    root = toml::parse(toml, std::string_view(path));
  } catch (const toml::parse_error& e) {
    sink.error(pos_of(e.source()), "", "TOML syntax error: " + std::string(e.description()));
    return sink.finish(nullptr);
  }
  Ctx c{sink, directory_of(path), check_files};
  Draft d;
  d.path = path;
  read_table(c, root, "", root_fields(), d);
  if (!d.has_headers) {
    d.headers.set = {
        {"Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
        {"X-Frame-Options", "DENY"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "strict-origin-when-cross-origin"},
        {"Content-Security-Policy", "default-src 'self'"},
    };
    d.headers.strip = {"server", "x-powered-by"};
  }
  validate_listeners(c, d);
  validate_pools(c, d);
  validate_routes(c, d);
  if (sink.has_errors()) return sink.finish(nullptr);
  return sink.finish(build(d));
}

LoadResult load_file(const std::string& path, bool check_files) {
  auto fail = [&](const std::string& why) {
    Sink sink(path);
    sink.error({}, "", "cannot read config file: " + why);
    return sink.finish(nullptr);
  };
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(std::strerror(errno));
  return load_string(text.str(), path, check_files);
}

}  // namespace sluice::config
