#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in
# build-fuzz and runs each for a bounded time: `make fuzz`, or
#
#   tools/fuzz.sh [SECONDS]       (default 60 a target; FUZZ_SECONDS too)
#
# Seeds come from tests/fuzz/corpus/<target>/ and a dictionary from
# tests/fuzz/<target>.dict when they exist; what a run learns is kept in
# build-fuzz/corpus/<target>/. A crash leaves its input in build-fuzz/ and
# makes this exit 1. Exit 2 when clang or its fuzzer runtime is missing.
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-${FUZZ_SECONDS:-60}}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=$(nproc 2>/dev/null || echo 2)

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
# The libraries get coverage instrumentation too, not only the targets'
# own files, or the fuzzer would be blind inside the code under test.
INSTR="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g"
CC=clang cmake -S . -B "$BUILD" -DFL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$INSTR" >/dev/null

targets=""
for src in tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  targets="$targets $(basename "$src" .c)"
done
[ -n "$targets" ] || { echo "fuzz: no targets in tests/fuzz"; exit 0; }
for t in $targets; do
  cmake --build "$BUILD" -j "$JOBS" --target "$t"
done

failed=0
for t in $targets; do
  corpus="$BUILD/corpus/$t"
  mkdir -p "$corpus"
  set -- -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/$t-"
  [ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
  set -- "$@" "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && set -- "$@" "tests/fuzz/corpus/$t"
  echo "fuzz: $t for ${SECS}s"
  if ! ASAN_OPTIONS=detect_leaks=1 "$BUILD/$t" "$@"; then
    echo "fuzz: $t FAILED (see $BUILD/$t-*)" >&2
    failed=1
  fi
done
exit $failed
