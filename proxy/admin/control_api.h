// What the admin server asks of the control plane. The admin server is the
// transport (Unix socket / metrics TCP listener, peer credentials, HTTP,
// JSON errors); the control plane (proxy/control.*) owns the runtime state
// and implements this interface. Both run on the main thread's loop: no
// method here is called from a worker thread, and none blocks for long.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::admin {

// Who asked, from SO_PEERCRED; written into audit events.
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
};

struct Reply {
  int status = 200;  // HTTP status
  std::string body;  // JSON (or Prometheus text for metrics)
  std::string content_type = "application/json";
};

class ControlApi {
 public:
  virtual ~ControlApi() = default;
  // GET /v1/status
  virtual Reply status() = 0;
  // GET /status.json (both listeners; read-only): what the status page
  // draws. status() plus, per pool, samples of the last minute for the charts.
  virtual Reply status_page_data() { return status(); }
  // PUT /v1/routes/{route}/split with the parsed body {"pool": weight, ...}.
  // 404 unknown route, 400 unknown pool / missing pool / sum 0; dry_run validates only.
  virtual Reply set_split(std::string_view route,
                          const std::vector<std::pair<std::string, uint64_t>>& weights,
                          bool dry_run, const Caller& who) = 0;
  // POST /v1/routes/{route}/rollback[?pool=NAME]
  virtual Reply rollback(std::string_view route, std::optional<std::string_view> pool, bool dry_run,
                         const Caller& who) = 0;
  // POST /v1/reload
  virtual Reply reload(bool dry_run, const Caller& who) = 0;
  // GET /metrics (Prometheus text format 0.0.4)
  virtual Reply metrics() = 0;
  // A mutating call the transport refused before it reached the methods
  // above (bad query, bad JSON body): for the audit log. Changes nothing.
  virtual void refused(std::string_view action, std::string_view route, const Caller& who,
                       int status, std::string_view error) {
    (void)action, (void)route, (void)who, (void)status, (void)error;
  }
  // GET /health/live, /health/ready
  virtual bool live() = 0;
  virtual bool ready() = 0;
};

}  // namespace sluice::admin
