#!/bin/sh
# Transactional checker benchmark (list-append): generated strict-serializable
# histories of 10k, 100k and 1M transactions (10 processes, keys rotated so
# lists stay short, a final read), each also with one planted instance of every
# anomaly type (bench/gen_txn.py --plant). Prints transactions per second for
# the parse and for the check, and peak RSS; fails when a valid history is
# rejected or a planted anomaly missed.
#
#   bench/bench_txn.sh [BUILD_DIR]        FL_BENCH_QUICK=1: 10k and 100k only
#
# The baseline is Elle's own published figures (its README: ~100k-160k
# transactions/s; 22 million transactions in about two minutes with ~60 GB
# of heap), written beside ours in bench/RESULTS.md: no JVM here to run it.
set -u
BUILD=${1:-build}
FAULTLINE=${FAULTLINE:-$BUILD/faultline}
[ -x "$FAULTLINE" ] || { echo "bench_txn: no $FAULTLINE (build first: make)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
GEN=$(dirname "$0")/gen_txn.py
SIZES="10000 100000 1000000"
[ -n "${FL_BENCH_QUICK:-}" ] && SIZES="10000 100000"
bad=0
field() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$2" | head -n 1; }

printf '%-9s %-8s %9s %9s %9s %12s %8s %s\n' txns history parse_s check_s total_s "check txn/s" rss_MB verdict
for n in $SIZES; do
  for kind in valid planted; do
    h=$TMP/h-$n-$kind.jsonl
    if [ $kind = planted ]; then
      python3 "$GEN" "$n" --plant >"$h" 2>"$TMP/planted" || { echo "gen failed"; exit 2; }
    else
      python3 "$GEN" "$n" >"$h" || { echo "gen failed"; exit 2; }
    fi
    /usr/bin/time -f %M -o "$TMP/rss" "$FAULTLINE" check "$h" --model list-append --json >"$TMP/out" 2>/dev/null
    rc=$?
    parse=$(field parse_s "$TMP/out")
    check=$(field elapsed_s "$TMP/out")
    total=$(field check_s "$TMP/out")
    rss=$(tail -n 1 "$TMP/rss" | awk '{printf "%.0f", $1 / 1024}')
    tps=$(awk -v n="$n" -v s="$check" 'BEGIN { printf "%.0f", n / s }')
    verdict=ok
    if [ $kind = valid ] && [ $rc -ne 0 ]; then verdict="REJECTED A VALID HISTORY (exit $rc)"; bad=1; fi
    if [ $kind = planted ]; then
      for a in $(sed 's/^planted: //' "$TMP/planted"); do
        grep -q "\"$a\":\[" "$TMP/out" || { verdict="MISSED $a"; bad=1; }
      done
    fi
    printf '%-9s %-8s %9.2f %9.2f %9.2f %12s %8s %s\n' "$n" $kind "$parse" "$check" "$total" "$tps" "$rss" "$verdict"
  done
done
exit $bad
