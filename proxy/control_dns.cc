// The control plane's side of upstream host names (proxy/dns.h): resolving
// them before the first snapshot, reloads that name new hosts, and new
// snapshots when a TTL refresh changes a name's addresses.
#include <uv.h>

#include "proxy/control.h"
#include "proxy/observe/log.h"
#include "proxy/server.h"

namespace sluice {

namespace {

// Start-up waits this long in total for every name, then refuses to start.
constexpr uint64_t kStartResolveMs = 5000;
// A reload waits this long for the names it adds, then is refused.
constexpr uint64_t kReloadResolveMs = 5000;

std::string endpoint_text(const config::Endpoint& ep) {
  return ep.host + ":" + std::to_string(ep.port);
}

// Calls f(pool, server) for every server of the config written as `name`.
template <typename F>
void for_each_server_named(const config::Config& cfg, const std::string& name, F f) {
  for (const config::Pool& p : cfg.pools) {
    for (const config::Endpoint& ep : p.servers) {
      if (!ep.ipv6 && ep.host == name) f(p, ep);
    }
  }
}

// "pool.blue: server \"blue.internal:3000\": cannot resolve: Domain name not found"
std::string describe(const config::Config& cfg, const std::vector<dns::Failure>& failed) {
  std::string out;
  for (const dns::Failure& f : failed) {
    for_each_server_named(cfg, f.name, [&](const config::Pool& p, const config::Endpoint& ep) {
      if (!out.empty()) out += "\n";
      out += "pool." + p.name + ": server \"" + endpoint_text(ep) + "\": cannot resolve \"" +
             f.name + "\": " + f.error;
    });
  }
  return out;
}

}  // namespace

bool Control::build_first_snapshot(std::string* error) {
  dns_ = std::make_unique<dns::Resolver>(loop_);
  dns_->on_change = [this](const std::string& name, const std::vector<dns::Address>& before,
                           const std::vector<dns::Address>& after) {
    dns_changed(name, before, after);
  };
  std::vector<std::string> names = dns::host_names(*cfg_);
  bool resolved = true;
  if (!names.empty()) {
    bool done = false;
    std::vector<dns::Failure> failed;
    dns_->resolve(names, kStartResolveMs, [&](std::vector<dns::Failure> f) {
      failed = std::move(f);
      done = true;
    });
    // Nothing else is on this loop yet (no admin socket, no signals, no
    // workers): run it until the answers are in. The batch's own deadline
    // keeps a timer active, so this ends within kStartResolveMs.
    while (!done) uv_run(loop_, UV_RUN_ONCE);
    for (const dns::Failure& f : failed) {
      for_each_server_named(*cfg_, f.name, [&](const config::Pool& p, const config::Endpoint& ep) {
        observe::Event("error", "dns_resolution_failed")
            .str("pool", p.name)
            .str("server", endpoint_text(ep))
            .str("name", f.name)
            .str("error", f.error);
      });
    }
    resolved = failed.empty();
    if (!resolved) {
      *error = describe(*cfg_, failed);
    } else {
      for (const std::string& n : names) {
        observe::Event("info", "dns_resolved")
            .str("name", n)
            .str("addresses", dns::to_string(dns_->answers().find(n)->second));
      }
    }
  }
  if (resolved) snap_ = build_snapshot(cfg_, workers_, tls_shared_, dns_->answers(), error);
  if (snap_) return true;
  // Not starting: let the resolver's handles close so the loop can be closed.
  dns_->close();
  uv_run(loop_, UV_RUN_NOWAIT);
  return false;
}

// The admin server answers synchronously on this loop and nested loop runs
// are not allowed, so a reload that adds host names cannot wait for them:
// everything else is checked now (with stand-in addresses for the new
// names), the names are resolved on the loop, and the config is applied when
// they answer — or refused with a reload_failed event, keeping the running
// config, when one fails or kReloadResolveMs passes. Names already known use
// their cached answers and never delay a reload.
bool Control::reload_resolving(std::shared_ptr<const config::Config> cfg, bool dry_run,
                               std::string* errors) {
  std::vector<std::string> missing;
  dns::Answers standin = dns_->answers();
  for (const std::string& n : dns::host_names(*cfg)) {
    if (standin.count(n) != 0) continue;
    missing.push_back(n);
    standin[n] = {dns::Address{}};  // 0.0.0.0: never connected to, only validated
  }
  std::string err;
  if (!build_snapshot(cfg, workers_, tls_shared_, standin, &err)) {
    *errors = err;
    if (!dry_run) ++reloads_failed_;
    return false;
  }
  if (dry_run) return true;  // names are checked when the reload is applied
  const uint64_t seq = ++dns_reload_seq_;
  dns_pending_ = missing;
  std::string list;
  for (const std::string& n : missing) list += (list.empty() ? "" : ", ") + n;
  observe::Event("info", "reload_resolving").str("names", list);
  dns_->resolve(missing, kReloadResolveMs, [this, cfg, seq](std::vector<dns::Failure> failed) {
    if (seq != dns_reload_seq_ || draining_) return;  // a later reload took over
    dns_pending_.clear();
    std::string errs;
    if (failed.empty()) {
      config::LoadResult res;
      res.config = cfg;
      if (apply_config(res, false, &errs)) return;
    } else {
      errs = describe(*cfg, failed);
      ++reloads_failed_;
    }
    observe::Event("error", "reload_failed").str("errors", errs);
    dns_->retain(dns::host_names(*cfg_));  // forget the names of the refused config
  });
  return true;
}

void Control::supersede_pending_reload() {
  ++dns_reload_seq_;
  dns_pending_.clear();
}

admin::Reply Control::pending_reload_reply() const {
  std::string body = "{\"reloaded\":false,\"dry_run\":false,\"resolving\":[";
  for (size_t i = 0; i < dns_pending_.size(); ++i) {
    if (i) body += ",";
    observe::append_json_string(body, dns_pending_[i]);
  }
  body +=
      "],\"detail\":\"applied when the new host names resolve (event reloaded), refused if they do "
      "not (event reload_failed)\"}";
  return admin::Reply{202, body};
}

// Same config, new addresses: a new snapshot published like a reload's.
// Requests in flight finish on the old one; workers close their idle
// upstream connections of the old generation and never reuse busy ones, so
// no connection to a removed address is used again. Runtime weights,
// windows and rollbacks are untouched; servers that stay keep their health.
void Control::dns_changed(const std::string& name, const std::vector<dns::Address>& before,
                          const std::vector<dns::Address>& after) {
  if (!snap_ || draining_) return;  // start-up builds from the latest answers anyway
  std::string err;
  auto snap = build_snapshot(cfg_, workers_, tls_shared_, dns_->answers(), &err, snap_->tls);
  if (!snap) {
    observe::Event("error", "dns_snapshot_failed").str("name", name).str("error", err);
    return;
  }
  retire_stats();
  for (RouteRt& r : routes_) {
    for (PoolRt& p : r.pools) p.seen = {};  // counts of the new, empty stats block
  }
  health_.carry_over(*snap);
  snap_ = snap;
  server_.publish_snapshot(snap_, weights_);
  if (tick_started_) health_.start(snap_);
  dns::Diff d = dns::diff(before, after);
  for_each_server_named(*cfg_, name, [&](const config::Pool& p, const config::Endpoint& ep) {
    observe::Event("info", "dns_changed")
        .str("pool", p.name)
        .str("server", endpoint_text(ep))
        .str("name", name)
        .str("old", dns::to_string(before))
        .str("new", dns::to_string(after))
        .str("added", dns::to_string(d.added))
        .str("removed", dns::to_string(d.removed))
        .num("generation", static_cast<int64_t>(snap_->generation));
  });
}

}  // namespace sluice
