// The runtime view of one configuration: what every worker reads on the hot
// path, built once per load and shared read-only (std::shared_ptr<const>).
// Names are resolved into indices and socket addresses; response header
// lines are pre-rendered; the route table is compiled.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/dns.h"
#include "proxy/health.h"
#include "proxy/http/headers.h"
#include "proxy/stats.h"
#include "routing/table.h"
#include "tls/context.h"

namespace sluice {

struct ServerAddr {
  sockaddr_storage sa{};
  // For logs and metrics: "127.0.0.1:3000", or for an address of a host name
  // "blue.internal:3000 (10.0.0.7)".
  std::string text;
  // As configured, for a Host header: "127.0.0.1:3000", "blue.internal:3000".
  std::string host;
};

struct PoolRuntime {
  std::string name;
  std::vector<ServerAddr> servers;
  uint32_t keepalive = 32;
  uint64_t connect_timeout_ms = 2000;
  uint64_t read_timeout_ms = 60000;
};

enum class StickyMode : uint8_t { None, Cookie, Header, Ip };

struct RouteRuntime {
  std::string name;
  std::vector<uint32_t> pools;     // pool indices, split order ("slots")
  std::vector<uint32_t> weights;   // configured, parallel to pools
  std::vector<uint64_t> pool_ids;  // hash of each pool's name, for rendezvous hashing
  StickyMode sticky = StickyMode::None;
  std::string sticky_header;  // lower-case
  std::string force_header;   // lower-case, empty = none
};

// Effective weights per route and slot, decided by the control plane and
// posted to every worker as one immutable table.
struct RouteWeights {
  uint64_t version = 0;
  std::vector<std::vector<uint32_t>> routes;
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  routing::RouteTable table{{}};
  std::vector<PoolRuntime> pools;
  std::vector<RouteRuntime> routes;
  http::ResponsePolicy policy;
  uint64_t generation = 0;
  // TLS listeners' context (certificates, ciphers, tickets); null without [tls].
  std::shared_ptr<const tls::ServerContext> tls;
  // Health-check verdicts per pool and server (atomics, written by the
  // main thread's checker); every server healthy until checks say otherwise.
  std::shared_ptr<HealthTable> health;
  // Counters of requests started under this snapshot (atomics inside).
  std::shared_ptr<StatsBlock> stats;

  const config::Limits& limits() const { return config->limits; }
};

// Null with *error set when the config cannot run.
// `dns` has the addresses of the pools' host names (see proxy/dns.h); every
// address of a name is one server of its pool; a name missing there is an
// error. `tls_shared` carries what outlives a snapshot: ticket keys and handshake
// counters (shared by every worker and kept across reloads).
struct TlsShared {
  std::shared_ptr<tls::TicketKeys> ticket_keys;
  std::shared_ptr<tls::HandshakeCounters> counters;
};
// `tls`, when given, is used instead of a context built from the config's
// files: a rebuild for new DNS answers keeps the running certificates.
std::shared_ptr<const Snapshot> build_snapshot(
    std::shared_ptr<const config::Config> cfg, unsigned workers, const TlsShared& tls_shared,
    const dns::Answers& dns, std::string* error,
    std::shared_ptr<const tls::ServerContext> tls = nullptr);

}  // namespace sluice
