// Upstream host names: c-ares driven by the main thread's libuv loop.
//
// A pool server written as a name ("blue.internal:3000") is resolved with
// ares_getaddrinfo (IPv4 and IPv6); every address it returns becomes one
// server of the pool. The Resolver keeps the last good answer of each name
// the running config uses and re-resolves it when its TTL runs out (clamped
// to [kTtlFloorMs, kTtlCeilingMs]). A failed refresh keeps the last good
// addresses and retries with a backoff (kRetryFirstMs doubling up to
// kRetryMaxMs). When a refresh changes a name's address set, `on_change`
// runs and the control plane publishes a new snapshot.
//
// c-ares sockets are watched with uv_poll and its timeouts with one
// uv_timer: nothing here blocks the loop, apart from c-ares reading
// /etc/hosts and resolv.conf (small local files), as getaddrinfo would.
//
// Configuration: /etc/resolv.conf (and /etc/hosts first, c-ares' "fb"
// lookups). SLUICE_DNS_SERVERS="ip[:port],..." in the environment replaces
// the name servers (tests, and operators who want sluice on another resolver).
//
// Thread: the main thread's loop only; workers never see this, only the
// snapshots built from its answers.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

struct ares_addrinfo;  // <ares.h> stays in dns.cc
struct ares_channeldata;

namespace sluice::dns {

inline constexpr uint64_t kTtlFloorMs = 1000;      // re-resolve at most once a second
inline constexpr uint64_t kTtlCeilingMs = 300000;  // and at least every 5 minutes
inline constexpr uint64_t kRetryFirstMs = 1000;    // after a failed refresh
inline constexpr uint64_t kRetryMaxMs = 30000;
inline constexpr uint64_t kQueryTimeoutMs = 1000;  // c-ares per try (doubles per retry)
inline constexpr int kQueryTries = 2;

// One resolved address, without a port (the port comes from the config).
struct Address {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  auto operator<=>(const Address&) const = default;
};

std::string to_string(const Address& a);                 // "127.0.0.2", "::1"
std::string to_string(const std::vector<Address>& set);  // "127.0.0.1, 127.0.0.2"
sockaddr_storage to_sockaddr(const Address& a, uint16_t port);
bool from_sockaddr(const sockaddr* sa, Address* out);  // false: not IPv4/IPv6
bool parse_ip(std::string_view text, Address* out);    // IP literal, no brackets

// Sorted and without duplicates: two answers are the same set when equal.
void canonicalize(std::vector<Address>& set);

struct Diff {
  std::vector<Address> added, removed;
  bool changed() const { return !added.empty() || !removed.empty(); }
};
// Both sets canonical.
Diff diff(const std::vector<Address>& before, const std::vector<Address>& after);

// When to look again: a good answer after its TTL (seconds, clamped to the
// floor and the ceiling); the n-th consecutive failure (n >= 1) after a
// backoff from kRetryFirstMs doubling up to kRetryMaxMs.
uint64_t refresh_after_ms(int64_t ttl_s);
uint64_t retry_after_ms(uint32_t failures);

// The distinct host names (not IP literals) of every pool's servers, in
// config order.
std::vector<std::string> host_names(const config::Config& cfg);

// Name -> its last good addresses (canonical, never empty).
using Answers = std::map<std::string, std::vector<Address>, std::less<>>;

struct Failure {
  std::string name;
  std::string error;  // c-ares' message, or "timed out after N ms"
};

class Resolver {
 public:
  using Done = std::function<void(std::vector<Failure> failed)>;
  using Changed = std::function<void(const std::string& name, const std::vector<Address>& before,
                                     const std::vector<Address>& after)>;

  explicit Resolver(uv_loop_t* loop);
  // Frees everything; handles not closed with close() are abandoned (only
  // on exit paths where the loop is never run again).
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves those of `names` without an answer yet (all of them with
  // `refresh`). `done` runs on a later loop iteration (never inside this
  // call) once each name has an answer or failed, or after `timeout_ms`
  // with the names still pending reported as timed out. A name that fails
  // before it ever had an answer is forgotten; one with an answer is kept
  // and refreshed by its TTL from then on.
  void resolve(const std::vector<std::string>& names, uint64_t timeout_ms, Done done);
  // Keeps refreshing only these names; the others are forgotten.
  void retain(const std::vector<std::string>& names);
  const Answers& answers() const { return answers_; }
  // True when every name in `names` has an answer.
  bool has_all(const std::vector<std::string>& names) const;

  // Runs when a refresh changes a name's address set (after answers() is updated).
  Changed on_change;

  // Prometheus text for /metrics.
  void append_metrics(std::string& out) const;

  // Cancels queries and batches (their `done` never runs) and closes every
  // handle; the loop can end afterwards.
  void close();

 private:
  struct Entry;
  struct Query;
  struct Batch;
  struct Poll;

  bool ensure_channel(std::string* error);
  void query(Entry& e);
  static void on_answer(void* arg, int status, int timeouts, ::ares_addrinfo* res);
  static void on_refresh(uv_timer_t* t);
  void answered(Query& q, int status, ::ares_addrinfo* res);
  void settle(const std::string& name, const std::string* error);
  void forget(const std::string& name);
  static void on_sock_state(void* data, int fd, int readable, int writable);
  static void on_poll(uv_poll_t* p, int status, int events);
  static void on_ares_timer(uv_timer_t* t);
  void update_ares_timer();
  static void on_batch_timer(uv_timer_t* t);
  void finish(Batch* b);

  uv_loop_t* loop_;
  ::ares_channeldata* channel_ = nullptr;
  bool closed_ = false;
  bool abandon_ = false;  // in the destructor: free, never touch the loop
  uv_timer_t ares_timer_{};
  bool ares_timer_init_ = false;
  std::map<int, Poll*> polls_;  // by socket
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
  std::vector<Batch*> batches_;
  Answers answers_;
  uint64_t seq_ = 0;
  uint64_t successes_ = 0;
  uint64_t failures_ = 0;
  uint64_t changes_ = 0;
};

}  // namespace sluice::dns
