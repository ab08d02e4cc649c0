// sluice-bench: an HTTP/1.1 load generator (see bench/README.md).
//
// The main thread parses the options, resolves the target once, builds the
// request bytes, and starts one Worker thread per -t. It then runs its own
// small loop: a progress line once a second (stderr, TTY only), SIGINT/SIGTERM
// to stop the workers early, and an async handle the workers signal when they
// are done. After the last one it merges their Stats and prints the report.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/options.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/worker.h"
#include "sluice_version.h"

namespace sluice::bench {
namespace {

constexpr uint64_t kOpenLoopLead =
    5'000'000;  // ns for the threads to start before request 0 is due

bool resolve(const Target& t, sockaddr_storage* out, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(t.host.c_str(), std::to_string(t.port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *error = "cannot resolve " + t.host + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return true;
}

// The main thread's loop: progress, signals, and waiting for the workers.
class Supervisor {
 public:
  Supervisor(const Options& options, std::vector<std::unique_ptr<Worker>>& workers)
      : options_(options), workers_(workers) {}

  // Any worker thread, as its run() ends.
  void worker_finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!closed_) uv_async_send(&done_);
  }
  bool interrupted() const { return interrupted_; }

  void init(uint64_t start_ns) {
    start_ns_ = last_ns_ = start_ns;
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &done_,
                  [](uv_async_t* a) { static_cast<Supervisor*>(a->data)->on_worker_done(); });
    done_.data = this;
    uv_signal_init(&loop_, &sigint_);
    uv_signal_init(&loop_, &sigterm_);
    sigint_.data = sigterm_.data = this;
    auto on_signal = [](uv_signal_t* s, int) { static_cast<Supervisor*>(s->data)->on_signal(); };
    uv_signal_start(&sigint_, on_signal, SIGINT);
    uv_signal_start(&sigterm_, on_signal, SIGTERM);
    uv_timer_init(&loop_, &progress_);
    progress_.data = this;
    show_progress_ = options_.progress && isatty(STDERR_FILENO);
    if (show_progress_)
      uv_timer_start(
          &progress_, [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->on_progress(); }, 1000,
          1000);
  }

  void run() {
    on_worker_done();  // a worker may have finished before the loop ran
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    if (shown_) std::fputs("\r\033[K", stderr);
  }

 private:
  void on_worker_done() {
    {
      // Under the lock, so that no worker_finished() sends to a handle being closed.
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return;
      for (const auto& w : workers_)
        if (!w->done()) return;
      closed_ = true;
    }
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&done_), reinterpret_cast<uv_handle_t*>(&sigint_),
          reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&progress_)})
      uv_close(h, nullptr);
  }

  void on_signal() {
    if (interrupted_) return;
    interrupted_ = true;
    for (auto& w : workers_) w->stop();
  }

  void on_progress() {
    uint64_t finished = 0;
    for (const auto& w : workers_) finished += w->finished_requests();
    uint64_t now = uv_hrtime();
    double elapsed = now > start_ns_ ? static_cast<double>(now - start_ns_) / 1e9 : 0.0;
    double interval = now > last_ns_ ? static_cast<double>(now - last_ns_) / 1e9 : 0.0;
    double rate = interval > 0 ? static_cast<double>(finished - last_finished_) / interval : 0.0;
    last_ns_ = now;
    last_finished_ = finished;
    std::fprintf(stderr, "\r%s", format_progress(elapsed, finished, rate).c_str());
    std::fflush(stderr);
    shown_ = true;
  }

  const Options& options_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  uint64_t start_ns_ = 0;
  uv_loop_t loop_{};
  uv_async_t done_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uv_timer_t progress_{};
  bool show_progress_ = false;
  bool shown_ = false;
  std::mutex mutex_;
  bool closed_ = false;  // done_ closed: guarded by mutex_
  bool interrupted_ = false;
  uint64_t last_ns_ = 0;
  uint64_t last_finished_ = 0;
};

int run(const Options& options) {
  sockaddr_storage address{};
  std::string error;
  if (!resolve(options.target, &address, &error)) {
    std::fprintf(stderr, "sluice-bench: %s\n", error.c_str());
    return 1;
  }
  const std::string request = build_request(options);
  std::signal(SIGPIPE, SIG_IGN);  // a peer that closes mid-write is an error to count, not a crash

  std::vector<std::unique_ptr<Worker>> workers;
  Supervisor supervisor(options, workers);
  for (unsigned i = 0; i < options.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(options, make_plan(options, i), request, address,
                                               [&supervisor] { supervisor.worker_finished(); }));
    if (!workers.back()->init(&error)) {
      std::fprintf(stderr, "sluice-bench: %s\n", error.c_str());
      return 1;
    }
  }
  const uint64_t start_ns = uv_hrtime() + (options.closed_loop() ? 0 : kOpenLoopLead);
  supervisor.init(start_ns);
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers) threads.emplace_back([&w, start_ns] { w->run(start_ns); });
  supervisor.run();
  for (auto& t : threads) t.join();

  Stats total;
  for (const auto& w : workers) total.merge(w->stats());
  uint64_t end = total.last_done_ns;
  if (options.duration_ns != 0 && !supervisor.interrupted())
    end = std::max(end, start_ns + options.duration_ns);
  RunResult result{options, total, end > start_ns ? end - start_ns : 0, supervisor.interrupted()};
  std::string out = options.json ? format_json(result) + "\n" : format_summary(result);
  std::fputs(out.c_str(), stdout);
  return total.responses > 0 ? 0 : 1;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using sluice::bench::ParseResult;
  ParseResult p = sluice::bench::parse_args(argc, argv);
  switch (p.kind) {
    case ParseResult::Kind::Help:
      std::fputs(sluice::bench::usage(), stdout);
      return 0;
    case ParseResult::Kind::Version:
      std::printf("sluice-bench %s\n", SLUICE_VERSION);
      return 0;
    case ParseResult::Kind::Error:
      std::fprintf(stderr, "sluice-bench: %s\n(sluice-bench --help lists the options)\n",
                   p.error.c_str());
      return 2;
    case ParseResult::Kind::Run:
      break;
  }
  return sluice::bench::run(p.options);
}
