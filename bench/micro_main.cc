// Entry point of micro_bench (Debian's libbenchmark-dev ships no benchmark_main.pc).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
