// Question: what does turning a request head into a MessageHead cost per request, as a
// function of head size, and how much of that is llhttp itself versus our wrapper (span
// bookkeeping, the obs-fold check, the strict line-end rescan)? Parsing runs once per request
// on every worker; a head that arrives in two reads is the realistic worst case.
//
// Each iteration drives http::Parser the way Downstream::parse_head() does on a keep-alive
// connection: begin_message(), execute() (which first completes the previous bodiless request
// and pauses, then parses this head up to HeadComplete), resume() as Exchange::start() does.
// Sizes: ~80 B (curl), ~500 B (browser), ~2 KB, ~8 KB (see request_heads.h).
#include <benchmark/benchmark.h>
#include <llhttp.h>

#include <cstdlib>
#include <string>

#include "bench/request_heads.h"
#include "proxy/http/parser.h"

namespace sluice::http {
namespace {

// Parses one request head held in `head`, whose bytes arrive in reads that end at `first_read`
// and at head.size(). Returns the bytes consumed (the head size, checked by the caller).
size_t parse_one(Parser& p, const std::string& head, size_t first_read) {
  const char* data = head.data();
  size_t pos = 0;
  size_t avail = first_read;
  for (;;) {
    if (pos == avail) avail = head.size();  // the next read arrives
    if (!p.in_head()) p.begin_message(data + pos);
    Parser::Result r = p.execute(data + pos, avail - pos, nullptr);
    pos += r.consumed;
    switch (r.event) {
      case Parser::Event::MessageComplete:  // the previous request's end: go on
        p.resume();
        continue;
      case Parser::Event::NeedMore:
        continue;
      case Parser::Event::HeadComplete:
        p.resume();
        return pos;
      case Parser::Event::Error:
        std::abort();
    }
  }
}

void run_parse(benchmark::State& state, int reads) {
  const std::string head = bench::request_head(static_cast<size_t>(state.range(0)));
  const size_t first = reads == 1 ? head.size() : head.size() / 2;
  Parser p(Parser::Kind::Request);
  if (parse_one(p, head, first) != head.size() || p.head().headers.empty()) {
    state.SkipWithError("request head did not parse");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_one(p, head, first));
    benchmark::DoNotOptimize(p.head().headers.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(head.size()));
  state.counters["head_B"] = static_cast<double>(head.size());
  state.counters["headers"] = static_cast<double>(p.head().headers.size());
}

// The whole head in one read (the common case on a LAN and behind a CDN).
void BM_ParseRequest(benchmark::State& state) {
  run_parse(state, 1);
}
BENCHMARK(BM_ParseRequest)->Arg(80)->Arg(500)->Arg(2048)->Arg(8192);

// The head split in two reads at its middle: llhttp keeps partial-token state, our spans
// are extended across the boundary.
void BM_ParseRequestTwoReads(benchmark::State& state) {
  run_parse(state, 2);
}
BENCHMARK(BM_ParseRequestTwoReads)->Arg(80)->Arg(500)->Arg(2048)->Arg(8192);

// Baseline: llhttp_execute alone, with no callbacks, on the same heads. The difference to
// BM_ParseRequest is what the wrapper adds.
void BM_LlhttpBare(benchmark::State& state) {
  const std::string head = bench::request_head(static_cast<size_t>(state.range(0)));
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  for (auto _ : state) {
    llhttp_errno_t e = llhttp_execute(&parser, head.data(), head.size());
    if (e != HPE_OK) {
      state.SkipWithError("llhttp error");
      break;
    }
    benchmark::DoNotOptimize(parser.flags);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(head.size()));
}
BENCHMARK(BM_LlhttpBare)->Arg(80)->Arg(500)->Arg(2048)->Arg(8192);

// The upstream side: a response head plus a 128 B body (compare.sh's default), parsed as
// Exchange::forward_response() does, body slices collected. Sizes as in request_heads.h.
void BM_ParseResponse(benchmark::State& state) {
  std::string head = bench::response_head(static_cast<size_t>(state.range(0)));
  // request_heads.h writes a Content-Length that fits the small head; make it 128 here.
  size_t cl = head.find("Content-Length: ");
  if (cl != std::string::npos)
    head.replace(cl + 16, head.find('\r', cl) - (cl + 16), "128");
  else
    head.insert(head.size() - 2, "Content-Length: 128\r\n");
  const std::string msg = head + std::string(128, 'x');
  Parser p(Parser::Kind::Response);
  std::vector<Slice> slices;
  slices.reserve(16);
  for (auto _ : state) {
    slices.clear();
    p.begin_message(msg.data());
    Parser::Result r = p.execute(msg.data(), msg.size(), &slices);
    if (r.event != Parser::Event::MessageComplete || r.consumed != msg.size()) {
      state.SkipWithError("response did not parse in one go");
      break;
    }
    p.resume();
    benchmark::DoNotOptimize(slices.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
  state.counters["head_B"] = static_cast<double>(head.size());
}
BENCHMARK(BM_ParseResponse)->Arg(150)->Arg(250)->Arg(1024)->Arg(4096);

}  // namespace
}  // namespace sluice::http
