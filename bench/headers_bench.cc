// Question: what does the header rewrite cost per proxied request, as a function of head
// size? Every proxied request pays build_upstream_request() once (X-Forwarded-For/Proto/Host,
// X-Real-IP, X-Request-Id, traceparent, hop-by-hop and Connection-named headers dropped) and
// build_downstream_response() once (strip list, security headers, X-Request-Id, the sticky
// Set-Cookie when there is one). Both append to a std::string whose capacity is kept from
// request to request, as Exchange does, so the steady state allocates nothing.
//
// Also measured: one classify() pass over a head. The request path makes several such passes
// (Downstream::on_head, Worker::choose_slot, Exchange::start, two inside
// build_upstream_request), so its cost tells whether folding them would pay.
//
// Inputs are parsed once with http::Parser outside the timed loop; the default ResponsePolicy
// is rendered as snapshot.cc does for a config without [headers].
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "bench/request_heads.h"
#include "proxy/http/headers.h"
#include "proxy/http/parser.h"

namespace sluice::http {
namespace {

// A parsed head and the bytes its spans point into.
struct Parsed {
  std::string bytes;
  Parser parser;

  Parsed(std::string b, Parser::Kind kind) : bytes(std::move(b)), parser(kind) {
    parser.begin_message(bytes.data());
    Parser::Result r = parser.execute(bytes.data(), bytes.size(), nullptr);
    if (r.event == Parser::Event::Error || !parser.head_done()) std::abort();
  }
  const MessageHead& head() const { return parser.head(); }
  const char* base() const { return bytes.data(); }
};

// config.cc's defaults when [headers] is absent, rendered the way snapshot.cc does.
ResponsePolicy default_policy() {
  ResponsePolicy pol;
  const std::pair<const char*, const char*> set[] = {
      {"Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
      {"X-Frame-Options", "DENY"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "strict-origin-when-cross-origin"},
      {"Content-Security-Policy", "default-src 'self'"},
  };
  for (const auto& [name, value] : set) {
    std::string line = std::string(name) + ": " + value + "\r\n";
    pol.set_lines_tls += line;
    std::string lc(name);
    for (char& c : lc) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (lc != "strict-transport-security") pol.set_lines_plain += line;
    pol.drop.push_back(lc);
  }
  pol.drop.push_back("server");
  pol.drop.push_back("x-powered-by");
  return pol;
}

// What Exchange::start() passes: the client's address, a generated request id, and a new
// traceparent unless the client sent a valid one (the 2 KB and 8 KB heads do).
ForwardContext forward_context(const Parsed& req) {
  static const char kRid[] = "0af7651916cd43dd8448eb211c80319c";
  static const char kTrace[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  bool client_trace = false;
  for (const HeaderSpan& h : req.head().headers) {
    client_trace = client_trace || classify(h.name.view(req.base())) == Tok::Traceparent;
  }
  ForwardContext ctx;
  ctx.client_ip = "203.0.113.7";
  ctx.proto = "http";
  ctx.request_id = std::string_view(kRid, 32);
  ctx.traceparent = client_trace ? std::string_view() : std::string_view(kTrace, 55);
  ctx.default_host = "10.0.0.12:8080";
  return ctx;
}

void BM_BuildUpstreamRequest(benchmark::State& state) {
  Parsed req(bench::request_head(static_cast<size_t>(state.range(0))), Parser::Kind::Request);
  ForwardContext ctx = forward_context(req);
  std::string out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    build_upstream_request(out, req.head(), req.base(), ctx);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(req.bytes.size()));
  state.counters["in_B"] = static_cast<double>(req.bytes.size());
  state.counters["out_B"] = static_cast<double>(out.size());
}
BENCHMARK(BM_BuildUpstreamRequest)->Arg(80)->Arg(500)->Arg(2048)->Arg(8192);

// Second argument: 1 = sticky cookie mode, a new client gets its Set-Cookie (ctx.extra).
void BM_BuildDownstreamResponse(benchmark::State& state) {
  Parsed resp(bench::response_head(static_cast<size_t>(state.range(0))), Parser::Kind::Response);
  ResponsePolicy policy = default_policy();
  ResponseContext ctx;
  ctx.request_id = "0af7651916cd43dd8448eb211c80319c";
  ctx.framing = Framing::Length;
  if (state.range(1) != 0) {
    ctx.extra = "Set-Cookie: sluice_pool=blue; Path=/; HttpOnly; SameSite=Lax\r\n";
  }
  std::string out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    build_downstream_response(out, resp.head(), resp.base(), policy, ctx);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(resp.bytes.size()));
  state.counters["in_B"] = static_cast<double>(resp.bytes.size());
  state.counters["out_B"] = static_cast<double>(out.size());
}
BENCHMARK(BM_BuildDownstreamResponse)
    ->Args({150, 0})
    ->Args({250, 0})
    ->Args({1024, 0})
    ->Args({4096, 0})
    ->Args({250, 1});

// One pass of classify() over every header name of a request head.
void BM_ClassifyPass(benchmark::State& state) {
  Parsed req(bench::request_head(static_cast<size_t>(state.range(0))), Parser::Kind::Request);
  for (auto _ : state) {
    unsigned hits = 0;
    for (const HeaderSpan& h : req.head().headers) {
      hits += static_cast<unsigned>(classify(h.name.view(req.base())));
    }
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["headers"] = static_cast<double>(req.head().headers.size());
}
BENCHMARK(BM_ClassifyPass)->Arg(80)->Arg(500)->Arg(2048)->Arg(8192);

}  // namespace
}  // namespace sluice::http
