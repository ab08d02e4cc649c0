// The admin server: HTTP/1.1 + JSON on the admin Unix socket, and the
// read-only metrics/health TCP listener (`admin.metrics_listen`).
//
// It is the transport only: peer credentials (SO_PEERCRED), HTTP framing
// (llhttp), limits, routing of the admin paths, request validation and JSON
// errors. What each call does is the ControlApi's business (control_api.h).
//
//   Unix socket (admin.socket, mode 0600)       TCP (admin.metrics_listen)
//   GET  /v1/status                              GET /metrics
//   PUT  /v1/routes/{route}/split                GET /health/live
//   POST /v1/routes/{route}/rollback[?pool=P]    GET /health/ready
//   POST /v1/reload                              GET / (status page), /status.js,
//   GET  /metrics, /health/live, /health/ready       /status.css, /status.json
//   GET  /, /status.{js,css,json}                anything else: 404 / 405
//   mutating calls accept ?dry_run=1|true|0|false
//
// Every response carries Cache-Control: no-store and the security headers
// (nosniff, X-Frame-Options DENY, no-referrer, CSP default-src 'self').
//
// Errors are {"error":"..."} with the matching status: 400 bad request or body,
// 403 peer uid not allowed, 404 unknown path, 405 wrong method (with Allow),
// 408 request not complete within the request timeout, 411 chunked body,
// 413 request (head + body) over the size limit, 500 the ControlApi threw.
//
// Thread affinity: everything runs on the loop given at construction (the
// main thread's loop, not a worker's), and the ControlApi is called there.
// Handles are closed with uv_close and freed in their close callbacks, never
// from inside their own callbacks; the AdminServer may be destroyed at any
// time on its loop thread (even from inside a ControlApi call): it closes
// what is open, and the loop finishes the closes on its next iteration.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/admin/control_api.h"

namespace sluice::admin {

struct ServerOptions {
  size_t max_request_bytes = 64 * 1024;      // request line + headers + body; over it: 413
  uint64_t request_timeout_ms = 10'000;      // first byte to complete request; idle keep-alive too
  size_t max_connections = 64;               // per AdminServer; more are accepted and closed
  size_t max_pending_write_bytes = 1 << 20;  // stop reading a peer that does not read
};

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, ControlApi& api, ServerOptions options = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Listens on a Unix socket at `path`, created with mode 0600 (its parent
  // directory is created 0755 if missing). A stale socket left by a dead
  // process is replaced; a live one (something accepts a connect) or a path
  // that is not a socket is refused. Peers whose uid is neither in
  // `allow_uids` nor our own get 403. On failure returns false with a message
  // naming the path in *error. One Unix listener per AdminServer.
  bool listen_unix(const std::string& path, std::vector<uint32_t> allow_uids, std::string* error);

  // Read-only listener for Prometheus and health checks: `host` is an IPv4 or
  // IPv6 literal (brackets optional), port 0 picks a free port (see tcp_port()).
  bool listen_tcp(const std::string& host, uint16_t port, std::string* error);

  // Stops listening, removes the socket file (if it is still the one we
  // created), and closes every connection, pending responses included.
  // Idempotent; the loop can end once the close callbacks have run.
  void close();

  const std::string& unix_path() const { return unix_path_; }
  int tcp_port() const { return tcp_port_; }  // bound port, 0 if none
  size_t connection_count() const { return conns_.size(); }

 private:
  struct Listener;
  struct Conn;
  friend struct Conn;

  static void on_unix_connection(uv_stream_t* server, int status);
  static void on_tcp_connection(uv_stream_t* server, int status);
  void accept(Listener* l);
  bool uid_allowed(uint32_t uid) const;
  void forget(Conn* c);

  uv_loop_t* loop_;
  ControlApi& api_;
  ServerOptions opt_;
  Listener* unix_ = nullptr;
  Listener* tcp_ = nullptr;
  std::string unix_path_;
  dev_t unix_dev_ = 0;  // identity of the socket file we bound, so close()
  ino_t unix_ino_ = 0;  // never unlinks a successor's socket
  std::vector<uint32_t> allow_uids_;
  int tcp_port_ = 0;
  std::vector<Conn*> conns_;  // open (not closing) connections
};

}  // namespace sluice::admin
