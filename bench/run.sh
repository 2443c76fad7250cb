#!/bin/sh
# make bench: every benchmark, each printing its figures beside a baseline
# measured in the same run. Usage: bench/run.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
echo "faultline benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
for b in bench/suite_bench.sh bench/bench_check.sh bench/bench_txn.sh bench/proxy_bench.sh bench/bench_http.sh bench/porcupine_compare.sh; do
  [ -x "$b" ] || [ -f "$b" ] || continue
  echo
  echo "== $b"
  sh "$b" "$BUILD" || echo "($b failed with exit $?)"
done
