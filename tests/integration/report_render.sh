#!/bin/sh
# Renders the sample reports of tests/data/reports/ and checks them as their
# readers will: junit.xml against the JUnit schema CI systems read (xmllint),
# the samples against reports/schema.json (when python3-jsonschema is there),
# and report.html in headless Chromium: it loads without console errors,
# holds the timeline SVG with one lane per service, and a screenshot of it is
# saved (and must not be empty).
#
# Renders through `faultline report RUN_DIR` when the binary has that command,
# else through the unit test binary (test_report with FL_REPORT_OUT=DIR).
# env: FAULTLINE, FL_SRC, FL_BUILD (set by ctest). Exit 77 = skipped.
set -u
: "${FL_SRC:?}" "${FL_BUILD:?}"
FAULTLINE=${FAULTLINE:-$FL_BUILD/faultline}
DATA=$FL_SRC/tests/data/reports
OUT=${FL_REPORT_OUT:-$FL_BUILD/report-render}
rm -rf "$OUT"
mkdir -p "$OUT"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# ---- render --------------------------------------------------------------------
FL_REPORT_OUT="$OUT" "$FL_BUILD/test_report" >"$OUT/test_report.log" 2>&1 ||
  fail "test_report did not pass (see $OUT/test_report.log)"
for s in fail-partition pass-kill-restart error-died; do
  [ -s "$OUT/$s.html" ] || fail "$s.html was not written"
done
# The same samples through the CLI, when it has the command: each run
# directory is copied, since `report` writes into it.
if [ -x "$FAULTLINE" ] && "$FAULTLINE" help 2>&1 | grep -qE '^ *(faultline )?report '; then
  for s in fail-partition pass-kill-restart error-died; do
    mkdir -p "$OUT/cli"
    cp -R "$DATA/$s" "$OUT/cli/$s"
    if "$FAULTLINE" report "$OUT/cli/$s" >"$OUT/cli/$s.out" 2>&1 &&
      [ -s "$OUT/cli/$s/report.html" ]; then
      ok "faultline report $s"
      # Re-rendered in place, the summary links the report beside it.
      grep -q '\[report\](report.html)' "$OUT/cli/$s/summary.md" ||
        fail "faultline report $s: summary.md does not link report.html"
    else
      fail "faultline report $s: $(cat "$OUT/cli/$s.out")"
    fi
  done
else
  . "$(dirname "$0")/lib/skip.sh"; skip_part "$FAULTLINE has no 'report' command: rendered through test_report only"
fi

# ---- junit.xml -------------------------------------------------------------------
if command -v xmllint >/dev/null 2>&1; then
  for x in "$OUT"/junit*.xml; do
    if xmllint --noout "$x" && xmllint --noout --schema "$DATA/junit-10.xsd" "$x" 2>"$OUT/xmllint.err"; then
      ok "$(basename "$x") is valid against junit-10.xsd"
    else
      fail "$(basename "$x"): $(cat "$OUT/xmllint.err")"
    fi
  done
  # The report pages are XML-clean too (no stray control characters).
  xmllint --html --noout "$OUT/fail-partition.html" 2>"$OUT/html.err" ||
    fail "fail-partition.html does not parse: $(head -5 "$OUT/html.err")"
else
  . "$(dirname "$0")/lib/skip.sh"; skip_part "xmllint is not installed (Debian: libxml2-utils); junit.xml not validated"
fi

# ---- report.json schema ----------------------------------------------------------
if python3 -c 'import jsonschema' 2>/dev/null; then
  if python3 - "$FL_SRC/reports/schema.json" "$DATA" <<'PY'
import json, sys, os, copy
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for name in ("pass-kill-restart", "fail-partition", "error-died"):
    r = json.load(open(os.path.join(sys.argv[2], name, "report.json")))
    errs = list(v.iter_errors(r))
    for e in errs:
        print("%s: %s: %s" % (name, "/".join(map(str, e.path)), e.message))
    bad += len(errs)
# What fl_report_validate rejects, the schema rejects too.
base = json.load(open(os.path.join(sys.argv[2], "pass-kill-restart", "report.json")))
def without(k):
    r = copy.deepcopy(base); del r[k]; return r
def with_(k, val):
    r = copy.deepcopy(base); r[k] = val; return r
cases = {"no status": without("status"), "bad status": with_("status", "passed"),
         "string seed": with_("seed", "1"), "error without message": with_("status", "error"),
         "pass without checks": without("checks"), "negative duration": with_("duration_s", -1)}
for label, r in cases.items():
    if v.is_valid(r):
        print("schema accepts a report with", label); bad += 1
sys.exit(1 if bad else 0)
PY
  then ok "samples are valid against reports/schema.json, and invalid ones are not"
  else fail "reports/schema.json and the samples disagree"
  fi
else
  . "$(dirname "$0")/lib/skip.sh"; skip_part "python3-jsonschema is not installed; schema.json not exercised"
fi

# ---- report.html in a browser ------------------------------------------------------
CHROME=""
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && { CHROME=$c; break; }
done
if [ -z "$CHROME" ]; then
  [ "$fails" -eq 0 ] || exit 1
  . "$(dirname "$0")/lib/skip.sh"
  skip "chromium is not installed (Debian: apt-get install chromium): the HTML" \
    "reports were rendered to $OUT but not opened in a browser"
fi
for s in fail-partition pass-kill-restart error-died; do
  prof=$(mktemp -d)
  png="$OUT/$s.png"
  # --enable-logging=stderr prints the page's console messages with their
  # level; an uncaught error or a failed load shows there.
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --no-first-run \
    --user-data-dir="$prof" --enable-logging=stderr --v=0 \
    --screenshot="$png" --window-size=1400,1800 "file://$OUT/$s.html" \
    >"$OUT/$s.chrome.log" 2>&1
  rm -rf "$prof"
  if [ -s "$png" ] && [ "$(wc -c <"$png")" -gt 20000 ]; then
    ok "$s.html: screenshot $png"
  else
    fail "$s.html: no screenshot (see $OUT/$s.chrome.log)"
  fi
  if grep -E 'Uncaught|:CONSOLE|Failed to load|net::ERR' \
    "$OUT/$s.chrome.log" >"$OUT/$s.console"; then
    fail "$s.html: console errors: $(head -5 "$OUT/$s.console")"
  fi
  # The DOM as the browser built it: the timeline and one lane per service.
  prof=$(mktemp -d)
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --no-first-run \
    --user-data-dir="$prof" --dump-dom "file://$OUT/$s.html" >"$OUT/$s.dom" 2>/dev/null
  rm -rf "$prof"
  lanes=$(grep -o '<g class="lane">' "$OUT/$s.dom" | wc -l)
  want=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['services']))" \
    "$DATA/$s/report.json" 2>/dev/null || grep -c '"name": "n' "$DATA/$s/report.json")
  if grep -q '<svg class="timeline"' "$OUT/$s.dom" && [ "$lanes" -eq "$want" ]; then
    ok "$s.html: timeline with $lanes service lanes"
  else
    fail "$s.html: timeline lanes $lanes, want $want"
  fi
done
grep -q 'class="anomaly"' "$OUT/fail-partition.dom" || fail "the stale read is not marked"
grep -q 'partition n2 | n1 n3' "$OUT/fail-partition.dom" || fail "no partition band label"

# ---- a real failing run ------------------------------------------------------------
# The unsafe kvnode cluster with a follower cut off: the run's own report.html
# must show three lanes and the partition band and, when the checker caught
# the stale read (it nearly always does), mark it. A screenshot is saved in
# the run directory.
KVNODE=${KVNODE:-$FL_BUILD/kvnode}
if [ -x "$FAULTLINE" ] && [ -x "$KVNODE" ] &&
  "$FAULTLINE" help 2>&1 | grep -qE '^ *(faultline )?run ' &&
  [ -f "$FL_SRC/scenarios/lib/kvnode.lua" ]; then
  cat >"$OUT/cut.lua" <<'LUA'
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")
fl.scenario("a follower cut off serves no stale reads", function()
  local cluster = kv.cluster{ nodes = 3, unsafe = true }
  cluster:start()
  local load = fl.workload{ clients = 6, rate = 80, duration = 7,
    ops = kv.register_ops{ keys = 2, cluster = cluster } }
  fl.sleep(1.5)
  local f = cluster:follower(1)
  fl.partition{ { f }, cluster:others(f) }
  fl.sleep(4)
  fl.heal()
  load:wait()
  fl.check.linearizable{ model = "kv", history = load.history }
end)
LUA
  run="$OUT/real-run"
  FL_KVNODE="$KVNODE" timeout 120 "$FAULTLINE" run "$OUT/cut.lua" --seed 7 --out "$run" \
    >"$OUT/real-run.log" 2>&1
  if [ -s "$run/report.json" ] && [ -s "$run/report.html" ]; then
    prof=$(mktemp -d)
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu \
      --disable-background-networking --disable-component-update --no-first-run \
      --user-data-dir="$prof" --enable-logging=stderr --v=0 \
      --screenshot="$run/report.png" --window-size=1400,1800 "file://$run/report.html" \
      >"$OUT/real-run.chrome.log" 2>&1
    rm -rf "$prof"
    [ -s "$run/report.png" ] && ok "real run: screenshot $run/report.png" ||
      fail "real run: no screenshot"
    grep -qE 'Uncaught|:CONSOLE' "$OUT/real-run.chrome.log" && fail "real run: console errors"
    html="$run/report.html"
    [ "$(grep -o '<g class="lane">' "$html" | wc -l)" -eq 3 ] || fail "real run: not 3 lanes"
    grep -q '>partition n2 | n1 n3</text>' "$html" || fail "real run: no partition band"
    if grep -q '"status": *"fail"' "$run/report.json" || grep -q 'v-fail' "$html"; then
      grep -q 'class="anomaly"' "$html" && grep -q '<svg class="ev-lin"' "$html" &&
        ok "real run: the stale read is marked" || fail "real run: the stale read is not marked"
    else
      echo "note: the real run found no stale read this time; its page was checked without one"
    fi
  else
    fail "real run: no report.json/report.html in $run (see $OUT/real-run.log)"
  fi
else
  . "$(dirname "$0")/lib/skip.sh"; skip_part "no faultline run / kvnode / scenarios/lib/kvnode.lua: the real run skipped"
fi

[ "$fails" -eq 0 ] && echo "report_render: all good; outputs in $OUT" && exit 0
exit 1
