#!/bin/sh
# The stress suite (`make stress`, not part of `make test`): every scenario
# whose verdict is known runs N times while busy loops keep every core
# loaded, and each run is judged against what it should find:
#
#   demo/kvnode, demo/kill-restart    correct systems: must pass
#   demo/kvnode-unsafe                a broken one: must fail its
#                                     linearizability check (exit 1)
#   etcd/*, redis/*, microservices/*  the packs (not the etcd soak): must
#                                     pass; the ones that exist to show an
#                                     anomaly (serializable-reads-stale,
#                                     failover-loses-writes,
#                                     pause-retry-duplicates) pass with an
#                                     "expected_finding" check that found it
#   clock/clock-faults                the "clock faults" scenario of
#                                     tests/integration/clock_faults.sh
#
# Each run is one of:
#   pass           the verdict it should have
#   FALSE ALARM    a correct system judged wrong: a check failed that is not
#                  an expected finding (its name is printed)
#   MISSED         an anomaly the scenario exists to show was not found (the
#                  unsafe demo passed, or an expected_finding check failed)
#   error          exit 2, a time-out, no report, or a check that gave up
#                  (unknown): a flake of the harness or the machine
#
# Every run has its own seed, printed with the command that replays it. At
# the end a table per scenario; exit 1 if any false alarm or missed
# finding, 0 otherwise (errors are reported, they do not change the exit).
#
# usage: tools/stress.sh              (or make stress)
# env:   STRESS_N=10        runs of each scenario
#        STRESS_ONLY=REGEX  only the scenarios whose name matches (grep -E)
#        STRESS_LOAD=1      busy loops on every core (0: none)
#        STRESS_LOAD_SECONDS=N*runs*60+600  the loops' own time bound
#        STRESS_TIMEOUT=300 seconds a run may take before it is an error
#        STRESS_OUT=DIR     where the results go (default build/stress)
#        STRESS_KEEP=1      keep the run directories of passing runs too
#        BUILD=build        the build directory (faultline, kvnode)
set -u
cd "$(dirname "$0")/.." || exit 2
SRC=$(pwd)
N=${STRESS_N:-10}
ONLY=${STRESS_ONLY:-}
LOAD=${STRESS_LOAD:-1}
TMO=${STRESS_TIMEOUT:-300}
BUILD=$(cd "${BUILD:-build}" 2>/dev/null && pwd) || { echo "stress: no build directory" >&2; exit 2; }
OUT=${STRESS_OUT:-$BUILD/stress}
FAULTLINE=$BUILD/faultline
[ -x "$FAULTLINE" ] || { echo "stress: $FAULTLINE not built (make)" >&2; exit 2; }
case "$N" in '' | *[!0-9]*) echo "stress: STRESS_N must be a number" >&2; exit 2 ;; esac
export FAULTLINE KVNODE="$BUILD/kvnode" FL_KVNODE="$BUILD/kvnode" FL_BUILD="$BUILD" FL_SRC="$SRC"

# table RESULTS N LOAD_TEXT SECONDS: the table by scenario, then every bad
# run with the command that replays it (Markdown).
table() {
  python3 - "$@" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n, load, took = sys.argv[2], sys.argv[3], int(sys.argv[4])
rounds = max([int(r[1]) for r in rows] or [0])
by = collections.OrderedDict()
for r in rows:
    by.setdefault(r[0], []).append(r)
print("| scenario | runs | pass | false alarms | missed findings | errors | median s | bad seeds |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
tot = collections.Counter()
for name, rs in by.items():
    c = collections.Counter(r[3] for r in rs)
    secs = sorted(int(r[5]) for r in rs)
    bad = ", ".join("%s (%s)" % (r[2], r[3].replace("_", " ")) for r in rs if r[3] != "pass")
    print("| %s | %d | %d | %d | %d | %d | %d | %s |" % (name, len(rs), c["pass"], c["false_alarm"],
          c["missed"], c["error"], secs[len(secs) // 2], bad or "-"))
    tot["runs"] += len(rs)
    for k in ("pass", "false_alarm", "missed", "error"):
        tot[k] += c[k]
print("| **total** | %d | %d | %d | %d | %d | | |" % (tot["runs"], tot["pass"], tot["false_alarm"],
      tot["missed"], tot["error"]))
print()
print("%s runs each (%d begun), %s, %d s in all." % (n, rounds, load, took))
bad = [r for r in rows if r[3] != "pass"]
if bad:
    print()
    print("Bad runs (replay with the command; the run directory is kept):")
    print()
    for r in bad:
        print("- %s run %s, %s, exit %s: `%s`: %s" % (r[0], r[1], r[3].replace("_", " "), r[4], r[6], r[7][:300]))
PY
}

# tools/stress.sh --table DIR: the table again from DIR/results.tsv (of a
# run that is still going, or was stopped).
if [ "${1:-}" = --table ]; then
  d=${2:-$OUT}
  read -r n started load_text <"$d/meta" || exit 2
  table "$d/results.tsv" "$n" "$load_text" "$(($(date +%s) - started))"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT/runs" "$OUT/cwd" || exit 2
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# The clock scenario lives in its test: take it from there, so the two stay
# the same.
sed -n "/^cat >\"\$TMP\/clock.lua\" <<'EOF'\$/,/^EOF\$/p" tests/integration/clock_faults.sh |
  sed '1d;$d' >"$OUT/clock.lua"
grep -q 'fl.scenario("clock faults"' "$OUT/clock.lua" ||
  { echo "stress: no \"clock faults\" scenario in tests/integration/clock_faults.sh" >&2; exit 2; }

# name|file|--only|expect   (expect: pass, or finding: must be judged wrong)
entries() {
  cat <<EOF
demo/kvnode|scenarios/demo/kvnode.lua||pass
demo/kill-restart|scenarios/demo/kill-restart.lua||pass
demo/kvnode-unsafe|scenarios/demo/kvnode-unsafe.lua||finding
EOF
  for pack in etcd redis microservices; do
    for f in scenarios/$pack/*.lua; do
      echo "$pack/$(basename "$f" .lua)|$f||pass"
    done
  done
  echo "clock/clock-faults|$OUT/clock.lua|clock faults|pass"
}
entries | grep -E "^[^|]*(${ONLY:-.})[^|]*\|" >"$OUT/entries"
count=$(wc -l <"$OUT/entries")
[ "$count" -gt 0 ] || { echo "stress: no scenario matches '$ONLY'" >&2; exit 2; }

# Busy loops on every core, each bounded by timeout(1) so none outlives a
# killed run by more than that, and killed at the end.
LOADPIDS=""
stop_load() {
  for p in $LOADPIDS; do kill "$p" 2>/dev/null; done
  LOADPIDS=""
}
trap 'stop_load' EXIT
trap 'exit 130' INT TERM HUP
cores=$(nproc 2>/dev/null || echo 2)
if [ "$LOAD" = 1 ]; then
  # A typical run takes under a minute: the loops stop by themselves after
  # that much per run (STRESS_LOAD_SECONDS overrides) even if this script is
  # killed with -9; the trap ends them as soon as the runs are over.
  bound=${STRESS_LOAD_SECONDS:-$((N * count * 60 + 600))}
  i=0
  while [ $i -lt "$cores" ]; do
    timeout "$bound" sh -c 'while :; do :; done' &
    LOADPIDS="$LOADPIDS $!"
    i=$((i + 1))
  done
  load_text="$cores busy loops (one per core, at most ${bound}s)"
else
  load_text="no added load"
fi

# judge EXPECT EXIT DIR: prints "outcome<TAB>detail" from the run's reports.
judge() {
  python3 - "$@" <<'PY'
import glob, json, os, sys
expect, code, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
reports = []
for p in sorted(glob.glob(os.path.join(d, "report.json")) + glob.glob(os.path.join(d, "*", "report.json"))):
    try:
        reports.append(json.load(open(p)))
    except Exception as e:
        print("error\tunreadable %s: %s" % (p, e)); sys.exit()
if code == 124 or code == 137:
    print("error\ttimed out"); sys.exit()
if not reports:
    print("error\texit %d, no report.json" % code); sys.exit()
errors = [r.get("error") or r.get("message") or "status error" for r in reports if r.get("status") == "error"]
checks = [c for r in reports for c in r.get("checks") or []]
def names(cs):
    return "; ".join("%s (%s): %s" % (c.get("name"), c.get("kind"), str(c.get("message", ""))[:160]) for c in cs)
failed = [c for c in checks if c.get("status") == "fail"]
missed = [c for c in failed if c.get("expected_finding")]
alarms = [c for c in failed if not c.get("expected_finding")]
unknown = [c for c in checks if c.get("status") in ("unknown", "error")]
if expect == "finding":
    found = [c for c in alarms if c.get("kind") == "linearizable"]
    if found and code == 1:
        print("pass\t" + names(found)[:200])
    elif code in (0, 1) and not errors and not unknown:
        print("missed\tno failed linearizability check (exit %d)" % code)
    else:
        print("error\texit %d: %s" % (code, "; ".join(map(str, errors)) or names(unknown)))
    sys.exit()
if missed:
    print("missed\t" + names(missed))
elif alarms:
    print("false_alarm\t" + names(alarms))
elif errors or unknown or code != 0:
    print("error\texit %d: %s" % (code, "; ".join(map(str, errors)) or names(unknown)))
else:
    print("pass\t")
PY
}

seed() {
  echo $(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 2147483647 + 1))
}

started=$(date +%s)
echo "$N $started $load_text" >"$OUT/meta"
echo "stress: $count scenario(s) x $N runs, $load_text, on $(nproc) cores; results in $OUT"
i=1
while [ $i -le "$N" ]; do
  while IFS='|' read -r name file only expect; do
    s=$(seed)
    dir="$OUT/runs/$(echo "$name" | tr '/' '_')-$i"
    case "$file" in /*) path=$file ;; *) path=$SRC/$file ;; esac
    set -- run "$path" --seed "$s" --out "$dir"
    [ -n "$only" ] && set -- "$@" --only "$only"
    t0=$(date +%s)
    (cd "$OUT/cwd" && exec timeout -k 10 "$TMO" "$FAULTLINE" "$@") >"$dir.log" 2>&1 </dev/null
    code=$?
    secs=$(($(date +%s) - t0))
    verdict=$(judge "$expect" "$code" "$dir")
    outcome=${verdict%%"	"*}
    detail=${verdict#*"	"}
    replay="faultline run $file --seed $s${only:+ --only '$only'}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$i" "$s" "$outcome" "$code" "$secs" \
      "$replay" "$detail" >>"$RESULTS"
    printf '[%5ds] %-40s run %2d/%d seed %-10s %3ds exit %d: %s%s\n' \
      $(($(date +%s) - started)) "$name" "$i" "$N" "$s" "$secs" "$code" "$outcome" \
      "${detail:+ ($(echo "$detail" | cut -c1-120))}"
    if [ "$outcome" = pass ] && [ "${STRESS_KEEP:-0}" != 1 ]; then
      rm -rf "$dir" "$dir.log"
    fi
  done <"$OUT/entries"
  i=$((i + 1))
done
stop_load

# The table, by scenario, then every bad run with the command to replay it.
table "$RESULTS" "$N" "$load_text" "$(($(date +%s) - started))" >"$OUT/table.md"
echo
cat "$OUT/table.md"
awk -F'\t' '$4 == "false_alarm" || $4 == "missed" { bad = 1 } END { exit bad }' "$RESULTS"
