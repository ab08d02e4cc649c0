// One proxied request: pick a pool and server, get an upstream connection,
// send the rewritten head and stream the body up, parse the response and
// stream it down, retry where that is safe, and log it.
//
//   start ──> Connecting ──connected──> Sending ──request done──> Waiting
//                 │  connect failed:                 │                │
//                 │  retry once on another server    └── response bytes ┘
//                 v                                          v
//            502 / 503                                  Responding ──> done
//   A reused keep-alive connection that fails before any response byte is
//   retried once on a fresh connection for bodiless idempotent requests.
//
// Body bytes are never copied: slices of the input buffer of one side go to
// uv_write on the other side, and that side's reading is paused until the
// write completes. Thread: the owning worker's loop only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/http/headers.h"
#include "proxy/http/parser.h"
#include "routing/window.h"

namespace sluice {

class Downstream;
class Upstream;
struct Snapshot;

// The growable parts of one exchange: texts and vectors that keep their
// capacity from request to request (the exchange itself lives in a pooled
// RequestState, see downstream.h, so no request allocates once the worker's
// free list is warm).
struct ExchangeScratch {
  std::string path;
  std::string set_cookie;  // "Set-Cookie: ...\r\n" for sticky cookie mode, or empty
  std::string up_head;
  std::string resp_head;
  std::vector<http::Slice> slices;
  std::vector<uv_buf_t> iov;
  // The capacities an ordinary request and response need: no regrowth later.
  static constexpr size_t kHeadReserve = 1024;
  void reserve() {
    iov.reserve(8);
    slices.reserve(8);
    up_head.reserve(kHeadReserve);
    resp_head.reserve(kHeadReserve);
  }
  // A tunnel needs the head texts no more and may live for hours: their
  // memory goes back (and the worker does not pool this state again).
  void release_heads() {
    std::string().swap(up_head);
    std::string().swap(resp_head);
  }
  bool heads_released() const { return up_head.capacity() < kHeadReserve; }
  void clear() {
    path.clear();
    set_cookie.clear();
    up_head.clear();
    resp_head.clear();
    slices.clear();
    iov.clear();
  }
};

class Exchange {
 public:
  Exchange() = default;
  ~Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  bool active() const { return active_; }
  // The connection this exchange serves until it is given back.
  void bind(Downstream* d) { d_ = d; }
  ExchangeScratch& s() { return scratch_; }

  // ---- downstream ----
  // The request head is parsed and valid; route and slot (the pool's
  // position in the route's split) already chosen.
  void start(uint32_t route, uint32_t slot);
  void on_client_data();     // more bytes in the input buffer
  void on_client_written();  // the last write to the client completed
  void on_client_eof();
  void abort();  // client gone: drop the upstream side
  void tunnel_client_data();

  // ---- upstream ----
  void on_upstream_connected(Upstream* u, int status);
  void on_upstream_written(int status);
  void on_upstream_data();
  void on_upstream_eof(int status);
  void on_upstream_timeout();

 private:
  enum class Phase : uint8_t { Idle, Connecting, Sending, Waiting, Responding, Tunnel, Done };

  void connect(bool fresh_only);
  void forward_request();
  void forward_response();
  void respond_error(int status, std::string_view reason);
  void upstream_failed(std::string_view reason, bool timeout);
  bool may_retry_on_fresh() const;
  void finish();
  void release_upstream(bool reusable);
  void append_body_iov(std::vector<http::Slice>& slices, bool chunked, bool last, int side);
  void log(int status);
  void record_stats();
  void begin_sending();
  void build_response_head();
  void send_local();
  void client_bad_body();
  void enter_tunnel();
  void tunnel_upstream_data();

  Downstream* d_ = nullptr;
  Upstream* up_ = nullptr;
  // The configuration this request started with; a reload mid-request
  // does not change its route, pools or headers.
  std::shared_ptr<const Snapshot> snap_;
  Phase phase_ = Phase::Idle;
  bool active_ = false;

  // Request facts, copied out of the head so the input buffer can move on.
  uint32_t route_ = 0;
  uint32_t slot_ = 0;
  uint32_t pool_ = 0;
  uint32_t server_ = 0;
  uint8_t attempts_ = 0;
  bool retried_fresh_ = false;
  llhttp_method_t method_ = HTTP_GET;
  bool idempotent_ = true;
  bool req_body_ = false;
  bool req_chunked_ = false;
  bool req_upgrade_ = false;
  bool req_done_ = false;  // whole request parsed (and queued upstream)
  bool req_sent_any_body_ = false;
  bool client_http10_ = false;
  bool client_keep_alive_ = true;
  bool head_sent_up_ = false;
  bool up_writing_ = false;
  char request_id_[64];
  uint8_t request_id_len_ = 0;
  char trace_id_[32];
  char traceparent_[55];  // generated when the client sent none (or an invalid one)

  // Response side.
  bool resp_head_sent_ = false;
  bool resp_begun_ = false;  // begin_message() called on the response parser
  bool up_eof_ = false;
  bool continue_pending_ = false;  // "100 Continue" queued to the client
  bool local_response_ = false;    // the response is sluice's own (error)
  routing::Outcome outcome_ = routing::Outcome::kOk;
  bool resp_done_ = false;
  bool resp_close_ = false;
  http::Framing framing_ = http::Framing::Length;
  int status_ = 0;
  uint64_t bytes_out_ = 0;

  // Timing.
  uint64_t start_ns_ = 0;
  uint64_t up_start_ns_ = 0;
  double up_ms_ = -1;

  char chunk_hdr_[2][24];

  ExchangeScratch scratch_;

  friend class Downstream;
};

}  // namespace sluice
