#include "proxy/snapshot.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cctype>

#include "routing/sticky.h"

namespace sluice {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::atomic<uint64_t> g_generation{0};

std::string endpoint_text(const config::Endpoint& ep) {
  return ep.ipv6 ? "[" + ep.host + "]:" + std::to_string(ep.port)
                 : ep.host + ":" + std::to_string(ep.port);
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> cfg,
                                               unsigned workers, const TlsShared& tls_shared,
                                               const dns::Answers& dns, std::string* error,
                                               std::shared_ptr<const tls::ServerContext> tls) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = cfg;
  snap->generation = ++g_generation;

  for (const config::Pool& p : cfg->pools) {
    PoolRuntime rt;
    rt.name = p.name;
    rt.keepalive = p.keepalive;
    rt.connect_timeout_ms = static_cast<uint64_t>(p.connect_timeout.count());
    rt.read_timeout_ms = static_cast<uint64_t>(p.read_timeout.count());
    for (const config::Endpoint& ep : p.servers) {
      ServerAddr sa;
      sa.host = endpoint_text(ep);
      dns::Address ip;
      if (dns::parse_ip(ep.host, &ip)) {
        sa.sa = dns::to_sockaddr(ip, ep.port);
        sa.text = sa.host;
        rt.servers.push_back(std::move(sa));
        continue;
      }
      // A host name: one server per address it resolved to.
      auto found = dns.find(ep.host);
      if (found == dns.end() || found->second.empty()) {
        *error = "pool." + p.name + ": server \"" + sa.host + "\": host name not resolved";
        return nullptr;
      }
      for (const dns::Address& a : found->second) {
        ServerAddr one;
        one.sa = dns::to_sockaddr(a, ep.port);
        one.host = sa.host;
        one.text = sa.host + " (" + dns::to_string(a) + ")";
        rt.servers.push_back(std::move(one));
      }
    }
    snap->pools.push_back(std::move(rt));
  }

  std::vector<routing::RouteSpec> specs;
  for (const config::Route& r : cfg->routes) {
    RouteRuntime rt;
    rt.name = r.name;
    for (const config::SplitEntry& e : r.split) {
      rt.pools.push_back(e.pool);
      rt.weights.push_back(e.weight);
      rt.pool_ids.push_back(routing::hash_key(cfg->pools[e.pool].name));
    }
    switch (r.sticky) {
      case config::Sticky::None:
        rt.sticky = StickyMode::None;
        break;
      case config::Sticky::Cookie:
        rt.sticky = StickyMode::Cookie;
        break;
      case config::Sticky::Header:
        rt.sticky = StickyMode::Header;
        break;
      case config::Sticky::Ip:
        rt.sticky = StickyMode::Ip;
        break;
    }
    rt.sticky_header = lower(r.sticky_header);
    rt.force_header = lower(r.force_header);
    snap->routes.push_back(std::move(rt));
    specs.push_back(routing::RouteSpec{r.hosts, r.path_prefix});
  }
  snap->table = routing::RouteTable(std::move(specs));
  std::vector<size_t> servers;
  for (const PoolRuntime& p : snap->pools) servers.push_back(p.servers.size());
  // Passive ejection uses the active check's `unhealthy` count when there is one.
  std::vector<uint32_t> fail_threshold;
  for (const config::Pool& p : cfg->pools) {
    fail_threshold.push_back(p.health_check ? p.health_check->unhealthy : 0);
  }
  snap->health = std::make_shared<HealthTable>(servers, fail_threshold);
  std::vector<uint32_t> slots;
  for (const RouteRuntime& r : snap->routes) slots.push_back(static_cast<uint32_t>(r.pools.size()));
  snap->stats = std::make_shared<StatsBlock>(workers, std::move(slots));

  if (tls != nullptr) {
    snap->tls = std::move(tls);
  } else if (cfg->tls && !cfg->tls->certificates.empty()) {
    tls::ServerOptions o;
    o.min_version = cfg->tls->min_version;
    o.ciphers = cfg->tls->ciphers;
    o.ciphersuites = cfg->tls->ciphersuites;
    for (const config::Certificate& c : cfg->tls->certificates) {
      o.certificates.push_back(tls::CertificateFiles{c.cert, c.key});
    }
    o.ticket_keys = tls_shared.ticket_keys;
    o.counters = tls_shared.counters;
    tls::ServerContext::BuildResult r = tls::ServerContext::build(o);
    if (!r.context) {
      *error = "tls: " + r.error();
      return nullptr;
    }
    snap->tls = r.context;
  }

  http::ResponsePolicy& pol = snap->policy;
  for (const config::Header& h : cfg->headers.set) {
    std::string line = h.name + ": " + h.value + "\r\n";
    pol.set_lines_tls += line;
    if (lower(h.name) != "strict-transport-security") pol.set_lines_plain += line;
    pol.drop.push_back(lower(h.name));
  }
  for (const std::string& s : cfg->headers.strip) pol.drop.push_back(lower(s));
  return snap;
}

}  // namespace sluice
