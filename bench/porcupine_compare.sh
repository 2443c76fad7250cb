#!/bin/sh
# faultline's linearizability checker against Porcupine
# (github.com/anishathalye/porcupine, Go), on the same generated histories:
# 1k, 10k and 100k operations, 1/8/64 keys, 5/10/50 processes, each valid
# and with one read corrupted. Both checkers read the very same file
# (faultline: `check --model kv --json`; Porcupine: bench/porcupine/main.go,
# a kv model partitioned by key) and must reach the same verdict: a
# disagreement is printed loudly, the history is kept, and the script exits 1.
#
#   PORCUPINE_SRC=/path/to/porcupine bench/porcupine_compare.sh [BUILD_DIR]
#
#   PORCUPINE_SRC      a directory with Porcupine's source (a Go module);
#                      unset or missing: skipped (exit 0). Porcupine's code
#                      never enters this repository.
#   PORCUPINE_TIMEOUT  budget per check, seconds (default 60), for both; a
#                      Porcupine run past it (plus 30 s grace) is killed and
#                      reported as "timeout".
#   PORCUPINE_MAX_MB   heap cap for Porcupine (ulimit -d; default 8192): past
#                      it the Go runtime dies and the row says "oom".
#   PORCUPINE_REPEAT   runs of each checker on each file while a run takes
#                      under 2 s (default 3); the fastest is reported.
#   FL_BENCH_QUICK=1   1k and 10k only.
#   FAULTLINE          the binary (default BUILD_DIR/faultline).
#
# Columns: fl_ms / pc_ms: the check alone (faultline's elapsed_s, which
# includes partitioning and, on a failure, finding the shortest failing
# prefix; Porcupine's CheckOperationsTimeout, partitioning included);
# ratio = pc_ms / fl_ms ("> x" when Porcupine timed out: a lower bound);
# wall: the whole process (start, parsing, check), ratio likewise; rss: peak
# resident set (GNU time %M). faultline runs on one core; Porcupine checks
# partitions in parallel goroutines (GOMAXPROCS = all cores).
set -u

BUILD=${1:-build}
cd "$(dirname "$0")/.."
SKIP="porcupine: skipped (set PORCUPINE_SRC to a checkout of github.com/anishathalye/porcupine)"
if [ -z "${PORCUPINE_SRC:-}" ] || [ ! -d "${PORCUPINE_SRC:-}" ]; then
  echo "$SKIP"
  exit 0
fi
PORCUPINE_SRC=$(cd "$PORCUPINE_SRC" && pwd)
if [ ! -f "$PORCUPINE_SRC/checker.go" ] && [ ! -f "$PORCUPINE_SRC/porcupine.go" ]; then
  echo "porcupine: skipped ($PORCUPINE_SRC has no porcupine.go: not Porcupine's source)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "porcupine: skipped (no Go toolchain: apt-get install golang-go)"
  exit 0
fi
FAULTLINE=${FAULTLINE:-$BUILD/faultline}
if [ ! -x "$FAULTLINE" ]; then
  echo "porcupine_compare: no $FAULTLINE (build first: make)" >&2
  exit 2
fi
TIMEOUT=${PORCUPINE_TIMEOUT:-60}
MAX_MB=${PORCUPINE_MAX_MB:-8192}
REPEAT=${PORCUPINE_REPEAT:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
KEEP=${PORCUPINE_KEEP_DIR:-/tmp/porcupine_compare.kept}

# The driver: our main.go, built in a temporary module whose go.mod points
# at PORCUPINE_SRC (never at the network).
mkdir -p "$TMP/drv"
cp bench/porcupine/main.go bench/porcupine/go.mod "$TMP/drv/"
(
  cd "$TMP/drv" &&
    go mod edit -replace "github.com/anishathalye/porcupine=$PORCUPINE_SRC" &&
    GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o "$TMP/porcupine-check" .
) || {
  echo "porcupine_compare: building the driver against $PORCUPINE_SRC failed" >&2
  exit 2
}

TIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
  TIME=/usr/bin/time
fi
commit=unknown
if git -C "$PORCUPINE_SRC" rev-parse HEAD >/dev/null 2>&1; then
  commit=$(git -C "$PORCUPINE_SRC" rev-parse HEAD)
elif [ -f "$PORCUPINE_SRC/PROVENANCE.txt" ]; then
  commit="see $PORCUPINE_SRC/PROVENANCE.txt: $(grep -o 'checker.go *@ *[0-9a-f]*' "$PORCUPINE_SRC/PROVENANCE.txt" | head -n 1)"
fi
echo "porcupine: $PORCUPINE_SRC ($commit), $(go version | cut -d' ' -f3-4)"
echo "faultline: $FAULTLINE ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "budget per check: ${TIMEOUT} s; Porcupine heap cap ${MAX_MB} MB; fastest of up to ${REPEAT} runs; $(nproc) cores; load at start:$(cut -d" " -f1-3 /proc/loadavg | sed "s/^/ /")"

SIZES="1000 10000 100000"
[ -n "${FL_BENCH_QUICK:-}" ] && SIZES="1000 10000"
KEYS="1 8 64"
PROCS="5 10 50"
bad=0
disagree=0

field() { # field NAME FILE: a value from the one-line output in FILE
  sed -n "s/.*\"$1\":\"\{0,1\}\([-0-9.e+a-z]*\).*/\1/p" "$2" | head -n 1
}
kv() { # kv NAME FILE: NAME=value from the driver's line
  sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | head -n 1
}
timed() { # timed OUT CMD...: runs CMD, stdout to OUT; sets rc, wall_s, rss_mb
  out=$1
  shift
  t0=$(date +%s%N)
  if [ -n "$TIME" ]; then
    $TIME -f "%M" -o "$TMP/time" "$@" >"$out" 2>"$TMP/err"
    rc=$?
    # GNU time puts "Command exited with non-zero status" (or a signal) first.
    rss_mb=$(tail -n 1 "$TMP/time" | awk '{printf "%.1f", $1 / 1024}')
  else
    "$@" >"$out" 2>"$TMP/err"
    rc=$?
    rss_mb=n/a
  fi
  wall_s=$(echo "$(date +%s%N) $t0" | awk '{printf "%.6f", ($1 - $2) / 1e9}')
}
# best CHECKER OUT CMD...: runs CMD up to $REPEAT times while a run takes
# under 2 s, keeping the fastest (the machine is shared: the minimum is the
# least disturbed figure); sets rc, wall_s, rss_mb (the largest), check_s
# and the output of the fastest run in OUT.
best() {
  who=$1 bout=$2
  shift 2
  b_wall= b_check= b_rss=0 i=0
  while [ "$i" -lt "$REPEAT" ]; do
    i=$((i + 1))
    timed "$TMP/run.out" "$@"
    if [ "$who" = fl ]; then
      c=$(field elapsed_s "$TMP/run.out")
    else
      c=$(kv elapsed_s "$TMP/run.out")
    fi
    b_rss=$(awk -v a="$b_rss" -v b="$rss_mb" 'BEGIN { print (b == "n/a" ? b : (b + 0 > a + 0 ? b : a)) }')
    if [ -z "$b_check" ] || awk -v a="${c:-1e9}" -v b="$b_check" 'BEGIN { exit !(a + 0 < b + 0) }'; then
      b_check=${c:-1e9} b_wall=$wall_s b_rc=$rc
      cp "$TMP/run.out" "$bout"
      cp "$TMP/err" "$bout.err"
    fi
    awk -v w="$wall_s" 'BEGIN { exit !(w + 0 < 2) }' || break
  done
  rc=$b_rc wall_s=$b_wall rss_mb=$b_rss check_s=$b_check
}
ms() { awk -v s="$1" 'BEGIN { if (s == "") print "-"; else printf "%.1f", s * 1000 }'; }
ratio() { # ratio PC FL [lowerbound]
  awk -v a="$1" -v b="$2" -v lb="${3:-}" 'BEGIN {
    if (a == "" || b == "" || b + 0 <= 0) { print "-"; exit }
    r = a / b; printf "%s%s", (lb != "" ? ">" : ""), (r >= 100 ? sprintf("%.0f", r) : sprintf("%.1f", r)) }'
}

hdr='%-6s %-4s %-5s %-7s | %-7s %-7s | %9s %9s %7s | %9s %9s %7s | %7s %7s\n'
printf "$hdr" ops keys procs history fl pc fl_ms pc_ms ratio fl_wall pc_wall ratio fl_MB pc_MB
printf '%s\n' "----------------------------+-----------------+-------------------------------+-------------------------------+----------------"
for n in $SIZES; do
  for k in $KEYS; do
    for p in $PROCS; do
      seed=$((n + 31 * k + p))
      for kind in valid corrupt; do
        h="$TMP/h.jsonl"
        if [ "$kind" = valid ]; then
          "$FAULTLINE" check --generate "$n" --keys "$k" --procs "$p" --seed "$seed" >"$h" 2>/dev/null
        else
          "$FAULTLINE" check --generate "$n" --keys "$k" --procs "$p" --seed "$seed" --corrupt \
            >"$h" 2>/dev/null
        fi
        # faultline
        best fl "$TMP/fl.out" "$FAULTLINE" check "$h" --model kv --json --timeout "$TIMEOUT"
        fl_rc=$rc fl_wall=$wall_s fl_rss=$rss_mb fl_ms=$check_s
        case $fl_rc in 0) flv=ok ;; 1) flv=illegal ;; 3) flv=unknown ;; *) flv="rc=$fl_rc" ;; esac
        # Porcupine: killed 30 s past its own budget if it does not stop, and
        # its heap capped (the Go runtime then dies "out of memory")
        best pc "$TMP/pc.out" timeout -s KILL $((TIMEOUT + 30)) sh -c \
          'ulimit -d "$1" && exec "$2" -timeout "$3" "$4"' sh "$((MAX_MB * 1024))" \
          "$TMP/porcupine-check" "$TIMEOUT" "$h"
        pc_rc=$rc pc_wall=$wall_s pc_rss=$rss_mb pc_ms=$check_s
        pcv=$(kv verdict "$TMP/pc.out")
        lb=
        if grep -q -i -e "out of memory" -e "cannot allocate memory" -e "cannot map pages" "$TMP/pc.out.err"; then
          pcv="oom"
          lb=1
          pc_ms=
        elif [ "$pc_rc" -eq 137 ] || [ "$pc_rc" -eq 124 ] || [ "$pcv" = unknown ]; then
          pcv=timeout
          lb=1
          [ "$pc_ms" = 1e9 ] && pc_ms=$TIMEOUT
        elif [ -z "$pcv" ]; then
          pcv="rc=$pc_rc"
          pc_ms=
        fi
        # verdicts: each against the other, and against how the history was made
        want=ok
        [ "$kind" = corrupt ] && want=illegal
        note=
        row_disagree=0
        if [ "$flv" != "$want" ]; then
          note="$note faultline:$flv!"
          bad=1
        fi
        if { [ "$pcv" = ok ] || [ "$pcv" = illegal ]; } && { [ "$flv" = ok ] || [ "$flv" = illegal ]; } &&
          [ "$pcv" != "$flv" ]; then
          disagree=1
          row_disagree=1
          mkdir -p "$KEEP"
          cp "$h" "$KEEP/$n-$k-$p-$kind.jsonl"
          note="$note DISAGREE(kept $KEEP/$n-$k-$p-$kind.jsonl)"
        elif [ "$pcv" != "$want" ] && [ "$pcv" != timeout ] && [ "$pcv" != oom ]; then
          note="$note porcupine:$pcv!"
        fi
        row=$(printf "$hdr" "$n" "$k" "$p" "$kind" "$flv" "$pcv" "$(ms "$fl_ms")" "$(ms "$pc_ms")" \
          "$(ratio "$pc_ms" "$fl_ms" $lb)" "$(ms "$fl_wall")" "$(ms "$pc_wall")" \
          "$(ratio "$pc_wall" "$fl_wall" $lb)" "$fl_rss" "$pc_rss")
        echo "$row$note"
        if [ "$row_disagree" -ne 0 ]; then
          echo "!!!!!!!! VERDICTS DISAGREE on $n ops, $k keys, $p procs ($kind, seed $seed):" \
            "faultline $flv, Porcupine $pcv !!!!!!!!"
        fi
      done
    done
  done
  echo "(after ${n}-op histories: load$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /'))"
done

echo
echo "ratio: Porcupine time / faultline time on the same file (check alone, then whole"
echo "process); timeout: Porcupine found no answer within ${TIMEOUT} s, oom: its heap passed"
echo "${MAX_MB} MB first (ratio, on wall time, a lower bound). Fastest of up to ${REPEAT} runs each."
if [ "$disagree" -ne 0 ]; then
  echo "FAILED: the checkers disagree on at least one history (kept under $KEEP)"
  exit 1
fi
if [ "$bad" -ne 0 ]; then
  echo "FAILED: faultline gave a wrong verdict (see the ! notes)"
  exit 1
fi
echo "every verdict agrees (where Porcupine finished)"
