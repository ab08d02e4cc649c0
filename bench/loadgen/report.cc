#include "bench/loadgen/report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "proxy/admin/json.h"

namespace sluice::bench {

namespace {

struct Percentile {
  const char* label;     // text summary
  const char* json_key;  // --json
  double percent;
};
constexpr Percentile kPercentiles[] = {
    {"p50", "p50", 50},
    {"p90", "p90", 90},
    {"p99", "p99", 99},
    {"p99.9", "p99_9", 99.9},
};

std::string printf_string(const char* fmt, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

double seconds(uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}
double millis(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

double rate_of(const RunResult& r) {
  return r.elapsed_ns ? static_cast<double>(r.stats.responses) / seconds(r.elapsed_ns) : 0.0;
}

std::string format_bytes(uint64_t b) {
  if (b < 1024) return printf_string("%" PRIu64 " B", b);
  if (b < 1024 * 1024) return printf_string("%.1f KiB", static_cast<double>(b) / 1024);
  if (b < uint64_t{1024} * 1024 * 1024)
    return printf_string("%.1f MiB", static_cast<double>(b) / (1024.0 * 1024));
  return printf_string("%.2f GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
}

std::string mode_text(const Options& o) {
  std::string s = o.closed_loop() ? "closed loop" : printf_string("open loop at %g req/s", o.rate);
  s += o.new_connection ? ", a new connection per request" : ", keep-alive";
  if (o.target.tls) s += o.tls_resume ? ", TLS with resumption" : ", TLS without resumption";
  return s;
}

double percent(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

std::string format_latency(uint64_t ns) {
  if (ns < 1000) return printf_string("%" PRIu64 " ns", ns);
  if (ns < 1'000'000) return printf_string("%.1f us", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000) return printf_string("%.2f ms", millis(ns));
  return printf_string("%.2f s", seconds(ns));
}

std::string format_progress(double elapsed_s, uint64_t finished, double recent_rate) {
  return printf_string("[%4.0f s] %10" PRIu64 " requests %10.0f req/s", elapsed_s, finished,
                       recent_rate);
}

std::string format_summary(const RunResult& r) {
  const Options& o = r.options;
  const Stats& s = r.stats;
  std::string out;
  out += "sluice-bench " + o.url + "\n";
  out += printf_string("  %u thread%s, %u connection%s, %s\n", o.threads, o.threads == 1 ? "" : "s",
                       o.connections, o.connections == 1 ? "" : "s", mode_text(o).c_str());
  if (r.interrupted) out += "  (interrupted: the numbers cover the run until then)\n";

  out += printf_string("\n  requests     %" PRIu64 " responses in %.2f s: %.1f req/s", s.responses,
                       seconds(r.elapsed_ns), rate_of(r));
  if (!o.closed_loop())
    out += printf_string(" (target %g: %.2f %%)", o.rate, 100.0 * rate_of(r) / o.rate);
  out += "\n";
  out += "  transfer     " + format_bytes(s.bytes_read) + " read, " +
         format_bytes(s.bytes_written) + " written\n";

  out += "  latency     ";
  for (const Percentile& p : kPercentiles) {
    out += ' ';
    out += p.label;
    out += ' ';
    out += format_latency(s.latency.percentile(p.percent));
    out += ',';
  }
  out += " max " + format_latency(s.latency.max()) + "\n";
  out += "               min " + format_latency(s.latency.min()) + ", mean " +
         format_latency(static_cast<uint64_t>(s.latency.mean())) +
         (o.closed_loop() ? " (from each send)\n" : " (from each request's scheduled time)\n");

  out += "  status      ";
  bool any = false;
  for (size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] == 0) continue;
    out += printf_string(" %zu: %" PRIu64, code, s.status[code]);
    any = true;
  }
  if (s.status_other) out += printf_string(" other: %" PRIu64, s.status_other);
  if (!any && !s.status_other) out += " (no responses)";
  out += "\n";

  out += printf_string("  errors       %" PRIu64, s.error_total());
  if (s.error_total()) {
    out += " (";
    const char* sep = "";
    for (size_t k = 0; k < kErrorKinds; ++k) {
      if (s.errors[k] == 0) continue;
      out += printf_string("%s%s %" PRIu64, sep, to_string(static_cast<ErrorKind>(k)), s.errors[k]);
      sep = ", ";
    }
    out += ")";
  }
  out += "\n";

  out += printf_string("  connections  %" PRIu64 " opened", s.connections_opened);
  if (o.target.tls)
    out += printf_string(", TLS handshakes: %" PRIu64 " full, %" PRIu64 " resumed", s.tls_full,
                         s.tls_resumed);
  out += "\n";

  const PoolCounts& pools = s.pools;
  if (!pools.entries().empty() || pools.other()) {
    out += "  pools (" + o.pool_header + ")\n";
    for (const PoolCounts::Entry& e : pools.entries())
      out += printf_string("    %-16s %10" PRIu64 "  %6.2f %%\n", e.name.c_str(), e.count,
                           percent(e.count, s.responses));
    if (pools.other())
      out += printf_string("    %-16s %10" PRIu64 "  %6.2f %%\n", "(other)", pools.other(),
                           percent(pools.other(), s.responses));
    if (pools.missing())
      out += printf_string("    %-16s %10" PRIu64 "  %6.2f %%\n", "(no header)", pools.missing(),
                           percent(pools.missing(), s.responses));
  }
  return out;
}

std::string format_json(const RunResult& r) {
  const Options& o = r.options;
  const Stats& s = r.stats;
  json::Writer w;
  w.begin_object();
  w.member("url", o.url).member("threads", o.threads).member("connections", o.connections);
  w.member("mode", o.closed_loop() ? "closed" : "open");
  w.key("target_rate");
  if (o.closed_loop())
    w.null();
  else
    w.value(o.rate);
  w.member("keep_alive", !o.new_connection).member("tls", o.target.tls);
  w.member("interrupted", r.interrupted);
  w.member("duration_s", seconds(r.elapsed_ns));
  w.member("requests", s.responses + s.error_total()).member("responses", s.responses);
  w.member("rate", rate_of(r));
  w.member("bytes_read", s.bytes_read).member("bytes_written", s.bytes_written);

  w.key("latency_ms").begin_object();
  w.member("min", millis(s.latency.min())).member("mean", s.latency.mean() / 1e6);
  for (const Percentile& p : kPercentiles)
    w.member(p.json_key, millis(s.latency.percentile(p.percent)));
  w.member("max", millis(s.latency.max()));
  w.end_object();

  w.key("status").begin_object();
  for (size_t code = 0; code < s.status.size(); ++code)
    if (s.status[code]) w.member(std::to_string(code), s.status[code]);
  if (s.status_other) w.member("other", s.status_other);
  w.end_object();

  w.key("errors").begin_object();
  for (size_t k = 0; k < kErrorKinds; ++k)
    w.member(to_string(static_cast<ErrorKind>(k)), s.errors[k]);
  w.member("total", s.error_total());
  w.end_object();

  w.member("connections_opened", s.connections_opened);
  w.key("tls_handshakes")
      .begin_object()
      .member("full", s.tls_full)
      .member("resumed", s.tls_resumed)
      .end_object();

  w.key("pools").begin_object();
  w.member("header", o.pool_header);
  w.key("counts").begin_object();
  for (const PoolCounts::Entry& e : s.pools.entries()) w.member(e.name, e.count);
  w.end_object();
  w.member("other", s.pools.other()).member("missing", s.pools.missing());
  w.end_object();

  w.end_object();
  return w.take();
}

}  // namespace sluice::bench
