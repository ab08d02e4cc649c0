// The control plane: runtime weights, rollback and rollout, persistence, the
// admin API. Lives on the main thread's loop, never on a worker.
//
// Every `tick` (100 ms) it reads the workers' counters (atomics, no locks),
// feeds each route's sliding windows, asks routing/controller for verdicts,
// and when effective weights change it posts an immutable weight table to
// every worker, logs the event and persists the state. Workers only ever
// read what it posts.
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "proxy/admin/control_api.h"
#include "proxy/config/config.h"
#include "proxy/dns.h"
#include "proxy/health.h"
#include "proxy/snapshot.h"
#include "routing/controller.h"
#include "routing/window.h"

namespace sluice {

class Server;

class Control : public admin::ControlApi {
 public:
  Control(Server& server, uv_loop_t* loop);
  ~Control() override;
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Builds the first snapshot and the runtime state (restored from state_dir
  // when present). False with *error when the config cannot run.
  bool init(std::shared_ptr<const config::Config> cfg, unsigned workers, std::string* error);
  const std::shared_ptr<const Snapshot>& snapshot() const { return snap_; }
  const std::shared_ptr<const RouteWeights>& weights() const { return weights_; }

  void start();  // tick timer
  void begin_drain() { draining_ = true; }
  void stop();  // close handles so the main loop can end

  // SIGHUP and POST /v1/reload. Returns false with the errors (one per line).
  bool reload(bool dry_run, std::string* errors);

  // ---- admin::ControlApi ----
  admin::Reply status() override;
  admin::Reply status_page_data() override;  // status() + per-pool series (status page)
  admin::Reply set_split(std::string_view route,
                         const std::vector<std::pair<std::string, uint64_t>>& weights, bool dry_run,
                         const admin::Caller& who) override;
  admin::Reply rollback(std::string_view route, std::optional<std::string_view> pool, bool dry_run,
                        const admin::Caller& who) override;
  admin::Reply reload(bool dry_run, const admin::Caller& who) override;
  admin::Reply metrics() override;
  void refused(std::string_view action, std::string_view route, const admin::Caller& who,
               int status, std::string_view error) override {
    audit(action, route, who, false, error, status);
  }
  bool live() override { return true; }
  bool ready() override;  // listening, not draining, every routed pool has a healthy server

 private:
  static constexpr int64_t kSampleMs = 1000;  // the status page's chart resolution
  struct Totals {
    uint64_t requests = 0, errors_5xx = 0, connect_failures = 0, timeouts = 0;
    uint64_t by_class[6] = {};
    std::vector<uint64_t> latency;  // per histogram bucket
    uint64_t duration[kPromBuckets] = {}, duration_sum_us = 0;
    uint64_t upstream[kPromBuckets] = {}, upstream_sum_us = 0;
    // += cur - seen, field by field (every field is a counter that only grows).
    void add_growth(const Totals& cur, const Totals& seen);
  };
  // One sample per second of a pool's traffic, the last kSeriesLen kept.
  struct Sample {
    double requests_per_s = 0, errors_per_s = 0;
    double window_error_rate = 0;  // what the rollback verdict looks at
  };
  struct Series {
    std::deque<Sample> samples;         // oldest first
    uint64_t requests = 0, errors = 0;  // cumulative totals at the last sample
  };
  struct PoolRt {
    std::string name;
    routing::SlidingWindow window;
    Totals seen;        // cumulative, as last read from the current StatsBlock
    Totals cumulative;  // for metrics: survives reloads
    uint64_t rollbacks = 0;
    routing::PoolVerdict verdict;
    Series series;  // the status page's charts: survives reloads
  };
  struct RouteRt {
    std::string name;
    routing::RoutePolicy policy;
    routing::RouteState state;
    std::vector<uint32_t> configured;  // the file's split, to see changes on reload
    std::vector<PoolRt> pools;         // one per slot
    std::string sticky;
  };

  // A stats block of an older snapshot, read until no request uses it.
  struct Retired {
    std::shared_ptr<StatsBlock> block;
    std::vector<std::string> routes;              // by route index in that block
    std::vector<std::vector<std::string>> pools;  // [route][slot]
    std::vector<std::vector<Totals>> seen;        // [route][slot]
  };

  std::vector<RouteRt> build_routes(const config::Config& cfg) const;
  static Totals read_totals(StatsBlock& block, size_t route, uint32_t slot);
  void apply(PoolRt& p, Totals& seen, Totals cur, routing::MonoTime now);
  void restore(std::vector<RouteRt>& routes);
  static void on_tick(uv_timer_t* t);
  void tick();
  void collect();
  void publish();
  void persist();
  std::string state_path() const;
  void log_rollbacks(const RouteRt& r, const std::vector<routing::RollbackRecord>& recs);
  void log_rollout_step(RouteRt& r);
  void sample(routing::MonoTime now);
  void remember(const RouteRt& r, routing::WallTime at, std::string_view pool,
                std::string_view kind, std::string_view reason, std::string detail);
  static std::string weights_text(const RouteRt& r, const std::vector<uint32_t>& w);
  std::string status_json(bool with_series);
  RouteRt* find_route(std::string_view name);
  std::vector<routing::WindowStats> window_stats(RouteRt& r, routing::MonoTime now);
  routing::MonoTime mono_now() const;
  static routing::WallTime wall_now();
  void audit(std::string_view action, std::string_view route, const admin::Caller& who,
             bool dry_run, std::string_view detail, int status);

  Server& server_;
  uv_loop_t* loop_;
  uv_timer_t tick_{};
  bool tick_started_ = false;
  bool draining_ = false;
  unsigned workers_ = 1;
  std::shared_ptr<const config::Config> cfg_;
  std::shared_ptr<const Snapshot> snap_;
  std::shared_ptr<const RouteWeights> weights_;
  std::vector<RouteRt> routes_;
  std::vector<Retired> retired_;
  // Weight changes for the status page, newest last: rollbacks, rollout
  // steps, operator splits, reloads that changed a split. Not persisted.
  struct HistoryEntry {
    routing::WallTime at;
    std::string route, pool, kind, reason, detail;
    std::vector<std::pair<std::string, uint32_t>> effective;  // weights after it
  };
  std::deque<HistoryEntry> history_;
  routing::MonoTime last_sample_{};
  bool sampled_ = false;
  uint64_t start_ms_ = 0;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  TlsShared tls_shared_;
  HealthChecker health_;
  uv_timer_t ticket_timer_{};
  static void on_ticket_timer(uv_timer_t* t);

  // ---- upstream host names (control_dns.cc) ----
  // Resolves the config's host names on the loop (bounded), then builds snap_.
  bool build_first_snapshot(std::string* error);
  // The rest of reload() once the file is parsed; also finishes a reload
  // that waited for new names.
  bool apply_config(const config::LoadResult& res, bool dry_run, std::string* errors);
  // A reload naming hosts not resolved yet: validated now, applied (or
  // refused) once they resolve. True when it is valid so far.
  bool reload_resolving(std::shared_ptr<const config::Config> cfg, bool dry_run,
                        std::string* errors);
  void supersede_pending_reload();
  admin::Reply pending_reload_reply() const;
  // A TTL refresh changed a name's addresses: same config, new snapshot.
  void dns_changed(const std::string& name, const std::vector<dns::Address>& before,
                   const std::vector<dns::Address>& after);
  // The current stats block is being replaced: read on until unused.
  void retire_stats();
  std::unique_ptr<dns::Resolver> dns_;
  uint64_t dns_reload_seq_ = 0;           // the reload waiting for names
  std::vector<std::string> dns_pending_;  // the names it waits for
};

}  // namespace sluice
