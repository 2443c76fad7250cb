#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in
# build-fuzz and runs each for a number of executions: `make fuzz`, or
#
#   tools/fuzz.sh [TARGET...]       (default: every target)
#
# env: FUZZ_RUNS=1000000   executions a target (at least 10^6 in make fuzz)
#      FUZZ_SECONDS=0      a time cap a target as well (0: none); a target
#                          stopped by it before FUZZ_RUNS makes this exit 1
#      FUZZ_MERGE=1        afterwards, add to tests/fuzz/corpus/<target>/ the
#                          inputs that bring new coverage (libFuzzer -merge=1),
#                          to be reviewed and committed
#      FUZZ_BUILD=build-fuzz
#
# Seeds come from tests/fuzz/corpus/<target>/ (kept in the repository) and a
# dictionary from tests/fuzz/<target>.dict when they exist; what a run learns
# is kept in build-fuzz/corpus/<target>/. Each target's execution count and
# time are printed at the end. A crash, a leak or a time-out leaves its input
# in build-fuzz/ and makes this exit 1. Exit 2 when clang or its fuzzer
# runtime is missing.
set -eu
cd "$(dirname "$0")/.."
RUNS=${FUZZ_RUNS:-1000000}
SECS=${FUZZ_SECONDS:-0}
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

targets="$*"
if [ -z "$targets" ]; then
  for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    targets="$targets $(basename "$src" .c)"
  done
fi
[ -n "$targets" ] || { echo "fuzz: no targets in tests/fuzz"; exit 0; }
for t in $targets; do
  cmake --build "$BUILD" -j "$JOBS" --target "$t"
done

failed=0
summary=""
for t in $targets; do
  corpus="$BUILD/corpus/$t"
  mkdir -p "$corpus"
  set -- -runs="$RUNS" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/$t-"
  [ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
  set -- "$@" "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && set -- "$@" "tests/fuzz/corpus/$t"
  cap=""
  [ "$SECS" != 0 ] && cap=", ${SECS} s at most"
  echo "fuzz: $t for $RUNS executions$cap"
  log="$BUILD/$t.log"
  start=$(date +%s)
  if ASAN_OPTIONS=detect_leaks=1 "$BUILD/$t" "$@" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
  fi
  took=$(($(date +%s) - start))
  tail -25 "$log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  if [ "$status" = ok ] && [ "$execs" -lt "$RUNS" ]; then
    status="stopped at $execs of $RUNS executions (FUZZ_SECONDS=$SECS)"
    failed=1
  fi
  [ "$status" = FAILED ] && echo "fuzz: $t FAILED (log $log, input $BUILD/$t-*)" >&2
  summary="$summary
  $t: $execs executions in ${took} s: $status"
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ -d "tests/fuzz/corpus/$t" ]; then
    "$BUILD/$t" -merge=1 "tests/fuzz/corpus/$t" "$corpus" >"$BUILD/$t.merge.log" 2>&1 ||
      echo "fuzz: merge into tests/fuzz/corpus/$t failed (see $BUILD/$t.merge.log)" >&2
  fi
done
echo "fuzz:$summary"
exit $failed
