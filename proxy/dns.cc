#include "proxy/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "proxy/observe/log.h"

namespace sluice::dns {

// ---------------------------------------------------------------- pure parts

std::string to_string(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family, a.bytes.data(), buf, sizeof buf);
  return buf;
}

std::string to_string(const std::vector<Address>& set) {
  std::string out;
  for (const Address& a : set) {
    if (!out.empty()) out += ", ";
    out += to_string(a);
  }
  return out;
}

sockaddr_storage to_sockaddr(const Address& a, uint16_t port) {
  sockaddr_storage ss{};
  if (a.family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
  }
  return ss;
}

bool from_sockaddr(const sockaddr* sa, Address* out) {
  *out = {};
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    out->family = AF_INET;
    std::memcpy(out->bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    out->family = AF_INET6;
    std::memcpy(out->bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return true;
  }
  return false;
}

bool parse_ip(std::string_view text, Address* out) {
  *out = {};
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  *out = {};
  return false;
}

void canonicalize(std::vector<Address>& set) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
}

Diff diff(const std::vector<Address>& before, const std::vector<Address>& after) {
  Diff d;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(d.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(d.removed));
  return d;
}

uint64_t refresh_after_ms(int64_t ttl_s) {
  if (ttl_s <= 0) return kTtlFloorMs;
  if (static_cast<uint64_t>(ttl_s) >= kTtlCeilingMs / 1000) return kTtlCeilingMs;
  return std::max(kTtlFloorMs, static_cast<uint64_t>(ttl_s) * 1000);
}

uint64_t retry_after_ms(uint32_t failures) {
  uint64_t ms = kRetryFirstMs;
  for (uint32_t i = 1; i < failures && ms < kRetryMaxMs; ++i) ms *= 2;
  return std::min(ms, kRetryMaxMs);
}

std::vector<std::string> host_names(const config::Config& cfg) {
  std::vector<std::string> out;
  for (const config::Pool& p : cfg.pools) {
    for (const config::Endpoint& ep : p.servers) {
      Address ignored;
      if (ep.ipv6 || parse_ip(ep.host, &ignored)) continue;
      if (std::find(out.begin(), out.end(), ep.host) == out.end()) out.push_back(ep.host);
    }
  }
  return out;
}

// ---------------------------------------------------------------- resolver

// A name the running config uses: its refresh timer and the query in flight.
struct Resolver::Entry {
  Resolver* owner = nullptr;
  std::string name;
  uv_timer_t timer{};      // next refresh
  uint64_t in_flight = 0;  // sequence number of the running query, 0 = none
  uint32_t failures = 0;   // consecutive failed refreshes
  bool answered = false;
};

// The argument of one ares_getaddrinfo call. The entry may be forgotten
// (or replaced) before the answer comes: the answer finds it by name and
// sequence number, or is dropped.
struct Resolver::Query {
  Resolver* owner;
  std::string name;
  uint64_t seq;
};

// One resolve() call waiting for its names.
struct Resolver::Batch {
  Resolver* owner = nullptr;
  std::vector<std::string> pending;
  std::vector<Failure> failed;
  Done done;
  uint64_t timeout_ms = 0;
  uv_timer_t timer{};    // the deadline; re-armed at 0 ms once every name settled
  bool starting = true;  // resolve() still adding names: not complete yet
  bool complete = false;
};

struct Resolver::Poll {
  Resolver* owner;
  int fd;
  uv_poll_t handle{};
};

Resolver::Resolver(uv_loop_t* loop) : loop_(loop) {}

Resolver::~Resolver() {
  // Only reached with live handles on exit paths: free, never touch the loop.
  closed_ = true;
  abandon_ = true;
  if (channel_ != nullptr) ares_destroy(channel_);
  for (auto& [fd, p] : polls_) delete p;
  for (Batch* b : batches_) delete b;
}

bool Resolver::ensure_channel(std::string* error) {
  if (channel_ != nullptr) return true;
  static std::once_flag once;
  static int lib_status = ARES_SUCCESS;
  std::call_once(once, [] { lib_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (lib_status != ARES_SUCCESS) {
    *error = std::string("c-ares: ") + ares_strerror(lib_status);
    return false;
  }
  ares_options opts{};
  opts.sock_state_cb = &Resolver::on_sock_state;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(kQueryTimeoutMs);
  opts.tries = kQueryTries;
  ares_channel ch = nullptr;
  int r =
      ares_init_options(&ch, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (r != ARES_SUCCESS) {
    *error = std::string("c-ares: cannot read the resolver configuration: ") + ares_strerror(r);
    return false;
  }
  const char* servers = std::getenv("SLUICE_DNS_SERVERS");
  if (servers != nullptr && *servers != '\0') {
    r = ares_set_servers_ports_csv(ch, servers);
    if (r != ARES_SUCCESS) {
      *error = std::string("SLUICE_DNS_SERVERS=\"") + servers + "\": " + ares_strerror(r);
      ares_destroy(ch);
      return false;
    }
  }
  channel_ = ch;
  if (!ares_timer_init_) {
    uv_timer_init(loop_, &ares_timer_);
    ares_timer_.data = this;
    ares_timer_init_ = true;
  }
  return true;
}

void Resolver::resolve(const std::vector<std::string>& names, uint64_t timeout_ms, Done done) {
  if (closed_) return;
  auto* b = new Batch;
  b->owner = this;
  b->done = std::move(done);
  b->timeout_ms = timeout_ms;
  uv_timer_init(loop_, &b->timer);
  b->timer.data = b;
  batches_.push_back(b);
  std::string error;
  bool have_channel = ensure_channel(&error);
  for (const std::string& name : names) {
    if (std::find(b->pending.begin(), b->pending.end(), name) != b->pending.end()) continue;
    if (!have_channel) {
      b->failed.push_back({name, error});
      continue;
    }
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      auto e = std::make_unique<Entry>();
      e->owner = this;
      e->name = name;
      uv_timer_init(loop_, &e->timer);
      e->timer.data = e.get();
      it = entries_.emplace(name, std::move(e)).first;
    }
    if (it->second->answered) continue;
    b->pending.push_back(name);
    // May answer at once (/etc/hosts, a bad name): settle() then takes the
    // name off `pending` again.
    if (it->second->in_flight == 0) query(*it->second);
  }
  b->starting = false;
  b->complete = b->pending.empty();
  uv_timer_start(&b->timer, &Resolver::on_batch_timer, b->complete ? 0 : timeout_ms, 0);
}

// The batch's deadline, or (at 0 ms) the loop iteration after its last name settled.
void Resolver::on_batch_timer(uv_timer_t* t) {
  auto* b = static_cast<Batch*>(t->data);
  if (!b->complete) {
    for (const std::string& n : b->pending) {
      b->failed.push_back({n, "timed out after " + std::to_string(b->timeout_ms) + " ms"});
    }
    b->pending.clear();
    b->complete = true;
  }
  b->owner->finish(b);
}

void Resolver::finish(Batch* b) {
  batches_.erase(std::find(batches_.begin(), batches_.end(), b));
  Done done = std::move(b->done);
  std::vector<Failure> failed = std::move(b->failed);
  uv_close(reinterpret_cast<uv_handle_t*>(&b->timer),
           [](uv_handle_t* h) { delete static_cast<Batch*>(h->data); });
  if (done) done(std::move(failed));
}

// A name answered or failed: batches waiting for it move on.
void Resolver::settle(const std::string& name, const std::string* error) {
  for (Batch* b : batches_) {
    if (b->complete) continue;
    auto it = std::find(b->pending.begin(), b->pending.end(), name);
    if (it == b->pending.end()) continue;
    b->pending.erase(it);
    if (error != nullptr) b->failed.push_back({name, *error});
    if (b->pending.empty() && !b->starting) {
      b->complete = true;
      uv_timer_start(&b->timer, &Resolver::on_batch_timer, 0, 0);
    }
  }
}

void Resolver::query(Entry& e) {
  e.in_flight = ++seq_;
  auto* q = new Query{this, e.name, e.in_flight};
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NOSORT;  // the set is sorted and compared by us
  ares_getaddrinfo(channel_, e.name.c_str(), nullptr, &hints, &Resolver::on_answer, q);
  update_ares_timer();
}

void Resolver::on_answer(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  auto* q = static_cast<Query*>(arg);
  if (status != ARES_EDESTRUCTION && !q->owner->closed_) q->owner->answered(*q, status, res);
  if (res != nullptr) ares_freeaddrinfo(res);
  delete q;
}

void Resolver::answered(Query& q, int status, ares_addrinfo* res) {
  auto it = entries_.find(q.name);
  if (it == entries_.end() || it->second->in_flight != q.seq) return;  // forgotten meanwhile
  Entry& e = *it->second;
  e.in_flight = 0;
  std::vector<Address> addrs;
  int64_t ttl = -1;
  for (ares_addrinfo_node* n = res != nullptr ? res->nodes : nullptr; n != nullptr;
       n = n->ai_next) {
    Address a;
    if (!from_sockaddr(n->ai_addr, &a)) continue;
    addrs.push_back(a);
    ttl = ttl < 0 ? n->ai_ttl : std::min<int64_t>(ttl, n->ai_ttl);
  }
  canonicalize(addrs);
  if (status == ARES_SUCCESS && !addrs.empty()) {
    ++successes_;
    e.failures = 0;
    std::vector<Address>& current = answers_[e.name];
    const bool changed = e.answered && current != addrs;
    std::vector<Address> before = changed ? current : std::vector<Address>{};
    current = addrs;
    e.answered = true;
    uv_timer_start(&e.timer, &Resolver::on_refresh, refresh_after_ms(ttl), 0);
    std::string name = e.name;  // `e` may be forgotten by the callbacks below
    settle(name, nullptr);
    if (changed) {
      ++changes_;
      if (on_change) on_change(name, before, addrs);
    }
    return;
  }
  ++failures_;
  std::string error = status == ARES_SUCCESS ? "no addresses in the answer" : ares_strerror(status);
  if (e.answered) {
    // Keep serving the last good addresses; look again soon.
    ++e.failures;
    uint64_t retry = retry_after_ms(e.failures);
    uv_timer_start(&e.timer, &Resolver::on_refresh, retry, 0);
    observe::Event("warn", "dns_refresh_failed")
        .str("name", e.name)
        .str("error", error)
        .str("kept", to_string(answers_[e.name]))
        .num("failures", e.failures)
        .num("retry_in_ms", static_cast<int64_t>(retry));
    settle(e.name, nullptr);
    return;
  }
  std::string name = e.name;
  forget(name);
  settle(name, &error);
}

void Resolver::on_refresh(uv_timer_t* t) {
  auto* e = static_cast<Entry*>(t->data);
  if (e->in_flight == 0 && !e->owner->closed_) e->owner->query(*e);
}

void Resolver::forget(const std::string& name) {
  answers_.erase(name);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  Entry* e = it->second.release();
  entries_.erase(it);
  uv_close(reinterpret_cast<uv_handle_t*>(&e->timer),
           [](uv_handle_t* h) { delete static_cast<Entry*>(h->data); });
}

void Resolver::retain(const std::vector<std::string>& names) {
  std::vector<std::string> drop;
  for (const auto& [name, e] : entries_) {
    if (std::find(names.begin(), names.end(), name) == names.end()) drop.push_back(name);
  }
  for (const std::string& n : drop) forget(n);
}

bool Resolver::has_all(const std::vector<std::string>& names) const {
  return std::all_of(names.begin(), names.end(),
                     [&](const std::string& n) { return answers_.count(n) != 0; });
}

// ---------------------------------------------------------------- c-ares <-> libuv

void Resolver::on_sock_state(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  auto it = self->polls_.find(fd);
  if (readable == 0 && writable == 0) {
    if (it == self->polls_.end()) return;
    Poll* p = it->second;
    self->polls_.erase(it);
    if (self->abandon_) {
      delete p;
    } else {
      // c-ares closes the socket after this returns; uv_close stops watching it now.
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle),
               [](uv_handle_t* h) { delete static_cast<Poll*>(h->data); });
    }
    return;
  }
  if (self->abandon_) return;
  Poll* p;
  if (it == self->polls_.end()) {
    p = new Poll{self, fd};
    if (uv_poll_init_socket(self->loop_, &p->handle, fd) != 0) {
      delete p;  // c-ares will time the query out
      return;
    }
    p->handle.data = p;
    self->polls_.emplace(fd, p);
  } else {
    p = it->second;
  }
  uv_poll_start(&p->handle, (readable != 0 ? UV_READABLE : 0) | (writable != 0 ? UV_WRITABLE : 0),
                &Resolver::on_poll);
}

void Resolver::on_poll(uv_poll_t* h, int status, int events) {
  auto* p = static_cast<Poll*>(h->data);
  Resolver* self = p->owner;
  int fd = p->fd;
  if (self->channel_ == nullptr) return;
  // On a poll error let c-ares try both directions: it sees the error itself.
  bool r = status < 0 || (events & UV_READABLE) != 0;
  bool w = status < 0 || (events & UV_WRITABLE) != 0;
  ares_process_fd(self->channel_, r ? fd : ARES_SOCKET_BAD, w ? fd : ARES_SOCKET_BAD);
  self->update_ares_timer();
}

void Resolver::on_ares_timer(uv_timer_t* t) {
  auto* self = static_cast<Resolver*>(t->data);
  if (self->channel_ == nullptr) return;
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->update_ares_timer();
}

void Resolver::update_ares_timer() {
  if (channel_ == nullptr || closed_) return;
  timeval tv{};
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    uv_timer_stop(&ares_timer_);
    return;
  }
  uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 +
                (static_cast<uint64_t>(next->tv_usec) + 999) / 1000;
  uv_timer_start(&ares_timer_, &Resolver::on_ares_timer, ms, 0);
}

void Resolver::close() {
  if (closed_) return;
  closed_ = true;
  for (Batch* b : batches_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&b->timer),
             [](uv_handle_t* h) { delete static_cast<Batch*>(h->data); });
  }
  batches_.clear();
  if (channel_ != nullptr) {
    ares_destroy(channel_);  // answers come back as ARES_EDESTRUCTION; sockets close
    channel_ = nullptr;
  }
  for (auto& [fd, p] : polls_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle),
             [](uv_handle_t* h) { delete static_cast<Poll*>(h->data); });
  }
  polls_.clear();
  if (ares_timer_init_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&ares_timer_), nullptr);
    ares_timer_init_ = false;
  }
  std::vector<std::string> names;
  for (const auto& [name, e] : entries_) names.push_back(name);
  for (const std::string& n : names) forget(n);
}

void Resolver::append_metrics(std::string& out) const {
  out +=
      "# HELP sluice_dns_resolutions_total Upstream host name lookups (start-up, reloads, TTL "
      "refreshes).\n";
  out += "# TYPE sluice_dns_resolutions_total counter\n";
  out += "sluice_dns_resolutions_total{result=\"success\"} " + std::to_string(successes_) + "\n";
  out += "sluice_dns_resolutions_total{result=\"failure\"} " + std::to_string(failures_) + "\n";
  out +=
      "# HELP sluice_dns_changes_total Address set changes of upstream host names (each one "
      "publishes a new snapshot).\n";
  out += "# TYPE sluice_dns_changes_total counter\n";
  out += "sluice_dns_changes_total " + std::to_string(changes_) + "\n";
  out += "# HELP sluice_dns_names Upstream host names kept fresh by their TTL.\n";
  out += "# TYPE sluice_dns_names gauge\n";
  out += "sluice_dns_names " + std::to_string(answers_.size()) + "\n";
}

}  // namespace sluice::dns
