#!/bin/sh
# Transactional checker benchmark (list-append): generated strict-serializable
# histories of 100k and 1M transactions (10 processes, keys rotated so lists
# stay short, a final read; bench/gen_txn.py), each also with one planted
# instance of every anomaly type (--plant). Prints, for this build and for a
# baseline measured IN THE SAME RUN on the same files, the parse (reading
# history.jsonl) and check seconds, wall and CPU seconds, transactions per
# second and peak RSS, and the ratios; and two floors for the reading: `wc -l`
# and Python's json module on the same file. Fails when a valid history is
# rejected or a planted anomaly missed.
#
#   bench/bench_txn.sh [BUILD_DIR]        FL_BENCH_QUICK=1: 10k and 100k only
#
# The baseline is the checker before the streaming reader (commit
# FL_TXN_BASELINE_REV, default d1a80a9: every line a jansson tree, kept for
# the whole check), built from `git archive` into a temporary directory;
# FL_TXN_BASELINE=/path/to/faultline uses a build you already have, and
# FL_TXN_BASELINE=none skips it. Elle (JVM) cannot run here: its published
# figures stand beside ours in bench/RESULTS.md.
set -u
BUILD=${1:-build}
FAULTLINE=${FAULTLINE:-$BUILD/faultline}
[ -x "$FAULTLINE" ] || { echo "bench_txn: no $FAULTLINE (build first: make)" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
GEN=$SRC/bench/gen_txn.py
SIZES="100000 1000000"
[ -n "${FL_BENCH_QUICK:-}" ] && SIZES="10000 100000"
REV=${FL_TXN_BASELINE_REV:-d1a80a9}
BASE=${FL_TXN_BASELINE:-}
bad=0

if [ -z "$BASE" ]; then
  echo "baseline: building $REV (the checker before the streaming reader) in $TMP/base ..."
  mkdir -p "$TMP/base"
  if git -C "$SRC" archive "$REV" | tar -x -C "$TMP/base" &&
    cmake -S "$TMP/base" -B "$TMP/base/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/base.log" 2>&1 &&
    cmake --build "$TMP/base/build" --target faultline -j "$(nproc)" >>"$TMP/base.log" 2>&1; then
    BASE=$TMP/base/build/faultline
  else
    echo "baseline: cannot build $REV (tail of the log below); measuring without it"
    tail -n 5 "$TMP/base.log" 2>/dev/null
    BASE=none
  fi
fi
[ "$BASE" != none ] && [ ! -x "$BASE" ] && { echo "bench_txn: no baseline $BASE" >&2; exit 2; }

field() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$2" | head -n 1; }

# run BIN FILE TAG: one check; sets parse check wall cpu rss rc (and the
# output in $TMP/out.TAG).
run() {
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/time.$3" "$1" check "$2" --model list-append --json >"$TMP/out.$3" 2>/dev/null
  rc=$?
  parse=$(field parse_s "$TMP/out.$3")
  check=$(field elapsed_s "$TMP/out.$3")
  set -- $(tail -n 1 "$TMP/time.$3")
  wall=$1
  cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
  rss=$(awk -v k="$4" 'BEGIN { printf "%.0f", k / 1024 }')
}

# verdict KIND: ok, or what went wrong (sets bad).
verdict() {
  v=ok
  if [ "$1" = valid ] && [ "$rc" -ne 0 ]; then v="REJECTED A VALID HISTORY (exit $rc)"; bad=1; fi
  if [ "$1" = planted ]; then
    for a in $(sed 's/^planted: //' "$TMP/planted"); do
      grep -q "\"$a\":\[" "$TMP/out.$2" || { v="MISSED $a"; bad=1; }
    done
  fi
  echo "$v"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times stretch under load; cpu = user + sys)"
printf '%-8s %-8s %-9s %8s %8s %8s %8s %11s %8s %s\n' txns history build parse_s check_s wall_s cpu_s "txn/s wall" rss_MB verdict
for n in $SIZES; do
  for kind in valid planted; do
    h=$TMP/h-$n-$kind.jsonl
    if [ $kind = planted ]; then
      python3 "$GEN" "$n" --plant >"$h" 2>"$TMP/planted" || { echo "gen failed"; exit 2; }
    else
      python3 "$GEN" "$n" >"$h" || { echo "gen failed"; exit 2; }
    fi
    run "$FAULTLINE" "$h" new
    nw=$wall nc=$cpu nr=$rss
    printf '%-8s %-8s %-9s %8.2f %8.2f %8.2f %8.2f %11.0f %8s %s\n' "$n" $kind new "$parse" "$check" "$wall" "$cpu" \
      "$(awk -v n="$n" -v s="$wall" 'BEGIN { print n / s }')" "$rss" "$(verdict $kind new)"
    [ "$BASE" = none ] && continue
    run "$BASE" "$h" base
    printf '%-8s %-8s %-9s %8.2f %8.2f %8.2f %8.2f %11.0f %8s %s\n' "$n" $kind baseline "$parse" "$check" "$wall" "$cpu" \
      "$(awk -v n="$n" -v s="$wall" 'BEGIN { print n / s }')" "$rss" "$(verdict $kind base)"
    awk -v a="$wall" -v b="$nw" -v c="$cpu" -v d="$nc" -v e="$rss" -v f="$nr" 'BEGIN {
      printf "%-8s %-8s %-9s wall %.1fx faster, cpu %.1fx less, peak RSS %.1fx smaller than the baseline\n",
        "", "", "ratio", a / b, c / d, e / f }'
  done
  # Floors for reading the same file: counting its lines, and Python's json.
  /usr/bin/time -f "%e" -o "$TMP/wc" wc -l "$h" >/dev/null
  /usr/bin/time -f "%e" -o "$TMP/py" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$h"
  printf '%-8s %-8s floors: wc -l %.2f s, python3 json.loads per line %.2f s (this build parses it in %.2f s)\n' \
    "$n" planted "$(tail -n 1 "$TMP/wc")" "$(tail -n 1 "$TMP/py")" "$(field parse_s "$TMP/out.new")"
done
exit $bad
