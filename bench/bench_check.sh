#!/bin/sh
# Linearizability checker benchmark: generated register histories (kv model)
# at 1k, 10k and 100k operations, 1 to 64 keys, 5 to 50 processes, each also
# with one read corrupted. Prints the check time (search only, and the whole
# `faultline check` run with parsing), time per op and per key, and peak RSS.
# Fails if a corrupted history is ever accepted, or a valid one rejected.
#
#   bench/bench_check.sh [BUILD_DIR]      (default: build)
#   FL_BENCH_QUICK=1 bench/bench_check.sh  (1k and 10k only)
#
# Porcupine (Go) is the baseline the issue names; it is run only when a Go
# toolchain and a porcupine checkout (FL_PORCUPINE_DIR) are both present.
set -u

BUILD=${1:-build}
FAULTLINE=${FAULTLINE:-$BUILD/faultline}
if [ ! -x "$FAULTLINE" ]; then
  echo "bench_check: no $FAULTLINE (build first: make)" >&2
  exit 2
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
TIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
  TIME=/usr/bin/time
fi

SIZES="1000 10000 100000"
[ -n "${FL_BENCH_QUICK:-}" ] && SIZES="1000 10000"
KEYS="1 8 64"
PROCS="5 10 50"
bad=0

# field NAME FILE: a number from the one-line JSON in FILE.
field() {
  sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p" "$2" | head -n 1
}

run() { # run FILE -> sets rc, wall (s), rss (MB), search (s), configs
  t0=$(date +%s%N)
  if [ -n "$TIME" ]; then
    $TIME -f "%M" -o "$TMP/time" "$FAULTLINE" check "$1" --model kv --json \
      >"$TMP/out" 2>/dev/null
    rc=$?
    # GNU time puts "Command exited with non-zero status" first.
    rss=$(tail -n 1 "$TMP/time" | awk '{printf "%.1f", $1 / 1024}')
  else
    "$FAULTLINE" check "$1" --model kv --json >"$TMP/out" 2>/dev/null
    rc=$?
    rss=n/a
  fi
  wall=$(echo "$(date +%s%N) $t0" | awk '{printf "%.4f", ($1 - $2) / 1e9}')
  search=$(field elapsed_s "$TMP/out")
  configs=$(field configurations "$TMP/out")
}

printf '%-7s %-5s %-6s | %-8s %9s %9s %8s %8s %9s %7s | %-8s %9s %9s %8s\n' \
  ops keys procs verdict search_ms total_ms us/op ms/key configs rss_MB \
  corrupt search_ms total_ms rss_MB
printf '%s\n' "---------------------+---------------------------------------------------------------------+--------------------------------------"
for n in $SIZES; do
  for k in $KEYS; do
    for p in $PROCS; do
      seed=$((n + 31 * k + p))
      "$FAULTLINE" check --generate "$n" --keys "$k" --procs "$p" --seed "$seed" \
        >"$TMP/h.jsonl" 2>/dev/null
      "$FAULTLINE" check --generate "$n" --keys "$k" --procs "$p" --seed "$seed" --corrupt \
        >"$TMP/c.jsonl" 2>/dev/null
      run "$TMP/h.jsonl"
      v=valid
      [ "$rc" -eq 0 ] || { v="RC=$rc!"; bad=1; }
      s_ms=$(echo "$search" | awk '{printf "%.1f", $1 * 1000}')
      t_ms=$(echo "$wall" | awk '{printf "%.0f", $1 * 1000}')
      per_op=$(echo "$search $n" | awk '{printf "%.2f", $1 * 1e6 / $2}')
      per_key=$(echo "$search $k" | awk '{printf "%.2f", $1 * 1000 / $2}')
      vconf=$configs
      vrss=$rss
      run "$TMP/c.jsonl"
      c=caught
      [ "$rc" -eq 1 ] || { c="RC=$rc!"; bad=1; }
      ct_ms=$(echo "$wall" | awk '{printf "%.0f", $1 * 1000}')
      cs_ms=$(echo "$search" | awk '{printf "%.1f", $1 * 1000}')
      printf '%-7s %-5s %-6s | %-8s %9s %9s %8s %8s %9s %7s | %-8s %9s %9s %8s\n' \
        "$n" "$k" "$p" "$v" "$s_ms" "$t_ms" "$per_op" "$per_key" "$vconf" "$vrss" \
        "$c" "$cs_ms" "$ct_ms" "$rss"
      if [ "$n" = 10000 ] && [ "$k" = 8 ] && [ "$p" = 10 ]; then
        target1=$t_ms
      fi
      if [ "$n" = 100000 ] && [ "$k" = 64 ]; then
        target2="${target2:-0} $t_ms"
      fi
    done
  done
done

echo
echo "search_ms: the search alone (elapsed_s); total_ms: the whole \`faultline check\`"
echo "(process start, parsing, search, output); us/op and ms/key from search_ms."
echo "Memory, per key searched: a memo table of 24 B x max(4 (m + 1), 2 C) slots"
echo "(rounded up to a power of two; m ops, C configurations explored, about m for"
echo "a valid history) + an arena of 8 B x (2 + W) per configuration (W: words of"
echo "the linearized-set window, about one per 64 ops in flight) + ~40 B per op;"
echo "the memo is capped at 1 GiB (then: unknown). The parsed history: ~250 B per op."
echo
if [ -n "${target1:-}" ]; then
  verdict=$([ "$target1" -lt 100 ] && echo met || echo MISSED)
  echo "target: 10k ops, 8 keys, 10 procs under 100 ms: ${target1} ms ($verdict)"
fi
if [ -n "${target2:-}" ]; then
  worst=$(echo "$target2" | tr ' ' '\n' | sort -n | tail -n 1)
  verdict=$([ "$worst" -lt 2000 ] && echo met || echo MISSED)
  echo "target: 100k ops, 64 keys under 2 s: worst ${worst} ms ($verdict)"
fi
# The baseline on the same histories is bench/porcupine_compare.sh (run by
# make bench after this one when PORCUPINE_SRC points at Porcupine's source).
echo "baseline: bench/porcupine_compare.sh runs Porcupine on the same histories (PORCUPINE_SRC)"
if [ "$bad" -ne 0 ]; then
  echo "FAILED: a verdict was wrong (see RC=... above)"
  exit 1
fi
echo "every corrupted history was caught, every valid one accepted"
