#include "proxy/snapshot.h"

#include "routing/sticky.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cctype>

namespace sluice {

namespace {

bool to_sockaddr(const config::Endpoint& ep, sockaddr_storage* out) {
  *out = {};
  if (ep.ipv6 || ep.host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(ep.port);
    return inet_pton(AF_INET6, ep.host.c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(out);
  a->sin_family = AF_INET;
  a->sin_port = htons(ep.port);
  return inet_pton(AF_INET, ep.host.c_str(), &a->sin_addr) == 1;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::atomic<uint64_t> g_generation{0};

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> cfg,
                                               unsigned workers, const TlsShared& tls_shared,
                                               std::string* error) {
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
      if (!to_sockaddr(ep, &sa.sa)) {
        *error = "pool." + p.name + ": server \"" + ep.host +
                 "\" is not an IP address (host names are not supported yet)";
        return nullptr;
      }
      sa.text = ep.ipv6 ? "[" + ep.host + "]:" + std::to_string(ep.port)
                        : ep.host + ":" + std::to_string(ep.port);
      rt.servers.push_back(std::move(sa));
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
      case config::Sticky::None: rt.sticky = StickyMode::None; break;
      case config::Sticky::Cookie: rt.sticky = StickyMode::Cookie; break;
      case config::Sticky::Header: rt.sticky = StickyMode::Header; break;
      case config::Sticky::Ip: rt.sticky = StickyMode::Ip; break;
    }
    rt.sticky_header = lower(r.sticky_header);
    rt.force_header = lower(r.force_header);
    snap->routes.push_back(std::move(rt));
    specs.push_back(routing::RouteSpec{r.hosts, r.path_prefix});
  }
  snap->table = routing::RouteTable(std::move(specs));
  std::vector<size_t> servers;
  for (const PoolRuntime& p : snap->pools) servers.push_back(p.servers.size());
  snap->health = std::make_shared<HealthTable>(servers);
  std::vector<uint32_t> slots;
  for (const RouteRuntime& r : snap->routes) slots.push_back(static_cast<uint32_t>(r.pools.size()));
  snap->stats = std::make_shared<StatsBlock>(workers, std::move(slots));

  if (cfg->tls && !cfg->tls->certificates.empty()) {
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
