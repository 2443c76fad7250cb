#!/bin/sh
# Findings are their own verdict, fl.metric, fl.log on the timeline and a
# failover ended by f:done() (issue 14), through real kvnode processes:
# scenarios/findings-failover.lua loses the writes its replica never got
# (an expected finding), and every output says so: the terminal, report.json,
# summary.md, junit.xml (from `suite` and from `report merge`) and
# report.html, re-rendered from report.json alone too. The kill of the old
# primary is a part of the failover: one recovery check, measured from
# f:done(), never "the fault never healed". Misused calls name the line.
. "$(dirname "$0")/lib/common.sh"
[ -x "$(dirname "$FAULTLINE")/kvnode" ] || skip "kvnode is not built beside faultline"

py() { python3 - "$@"; }

expect_exit 0 "a scenario with an expected finding passes" -- "$FAULTLINE" suite \
  "$SCEN/findings-failover.lua" --out "$TMP/suite"
expect_grep "$TMP/out" "1 passed, 0 failed, 0 errors" "the suite counts it as passed"
expect_grep "$TMP/out" "^findings: 1 scenario passed with findings: failover loses .* \([1-9][0-9]* acknowledged write\(s\) lost\)" \
  "the suite says what was found"
run=$(ls -d "$TMP"/suite/*failover*/ 2>/dev/null | head -1)
run=${run%/}
[ -n "$run" ] && [ -f "$run/report.json" ] || { fail "no run directory under $TMP/suite"; finish; }
# The scenario's own terminal output, which the suite keeps beside its run.
expect_grep "$run.out" "^PASS with 1 finding: failover loses the writes the replica never got" \
  "the terminal line says PASS with 1 finding"
expect_grep "$run.out" "^  finding: writes lost in the failover: acknowledged write\(s\) lost \([1-9][0-9]*\)" \
  "and a line per finding"

# report.json: status pass, the finding with its operations, the metric,
# the failover ended by f:done(), the kill a part of it, distinct toxics.
if py "$run/report.json" >"$TMP/py.out" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def need(cond, what):
    if not cond:
        print("report.json: " + what); sys.exit(1)
need(r["status"] == "pass", "status is pass")
f = r.get("findings", [])
need(len(f) == 1, "one finding, not %d" % len(f))
f = f[0]
need(f["check"] == "writes lost in the failover" and f["what"] == "acknowledged write(s) lost", "the finding names its check")
need(f["count"] >= 1 and len(f["ops"]) >= 1, "the finding counts and lists the lost writes")
need(all(o["f"] == "add" and o["type"] == "ok" and o["invoke_s"] <= o["complete_s"] for o in f["ops"]),
     "each lost write with its invoke and completion times")
lost = [c for c in r["checks"] if c["name"] == "writes lost in the failover"][0]
need(f["count"] == lost["lost_count"], "the count is the check's lost_count")
m = [x for x in r.get("metrics", []) if x["name"] == "replica lag"]
need(len(m) == 1 and m[0]["unit"] == "writes" and len(m[0]["points"]) >= 4, "the replica lag series")
need(all(0 <= p[0] <= r["duration_s"] + 0.01 for p in m[0]["points"]), "its times are on the run's clock")
need(m[0]["points"][-1][1] == 0 and m[0]["points"][-2][1] == 5, "its last values are as recorded")
fo = [x for x in r["faults"] if x["kind"] == "failover"]
need(len(fo) == 1 and fo[0]["end_s"] is not None and fo[0]["targets"] == ["a", "b"], "the failover, ended by f:done()")
need(fo[0]["attrs"].get("group") is True, "a group")
kills = [x for x in r["faults"] if x["kind"] == "kill"]
need(len(kills) == 1 and kills[0]["attrs"].get("part_of") == fo[0]["id"], "the kill of a is a part of the failover")
lat = [x for x in r["faults"] if x["kind"] == "latency"]
need(all("part_of" not in x["attrs"] for x in lat), "toxics after f:done() are no part of it")
rec = [c for c in r["checks"] if c["kind"] == "recovery"]
names = [c["name"] for c in rec]
need("recovery after failover of a, b" in names, "a recovery check for the failover: %s" % names)
need(not any("kill" in n for n in names), "no recovery check of the kill, a part of the failover: %s" % names)
need(all(c["status"] == "pass" for c in rec), "every recovery passed: %s" % [c["message"] for c in rec])
need(not any("never healed" in c.get("message", "") for c in r["checks"]), "nothing 'never healed'")
fo_rec = [c for c in rec if c["name"] == "recovery after failover of a, b"][0]
need(abs(fo_rec["heal_s"] - fo[0]["end_s"]) < 1e-6, "measured from f:done()")
log_rec = [c for c in rec if c["name"].startswith("recovery (log) after \"b promoted")]
need(len(log_rec) == 1, "a recovery measured from the fl.log line")
toxics = sorted(x["attrs"].get("toxic") for x in r["faults"] if x["kind"] == "latency")
need(toxics == ["slow-down", "slow-up"], "two toxics, two names: %s" % toxics)
need(len(set(names)) == len(names), "no two recovery checks share a name: %s" % names)
steps = [e["message"] for e in r["events"] if e["type"] == "step"]
need("replication stalls" in steps, "fl.log lines are timeline events")
print("findings %d, lost %d, %d metric points, checks %s" % (len(r["findings"]), f["count"], len(m[0]["points"]), names))
PY
then ok "report.json: $(cat "$TMP/py.out")"; else fail "$(cat "$TMP/py.out")"; fi

# summary.md (the suite's and the run's), junit.xml.
for md in "$TMP/suite/summary.md" "$run/summary.md"; do
  expect_grep "$md" "pass with findings \| failover loses" "$(basename "$(dirname "$md")")/summary.md: its own marker"
  expect_grep "$md" "\| Checks passed \| Findings \| Report \|" "summary.md: a findings column"
  expect_grep "$md" "\| [^|]*1: [1-9][0-9]* acknowledged write\(s\) lost \|" "summary.md: the count in it"
  if grep -qi "all 1 scenario passed" "$md"; then fail "$md says all passed"; else ok "summary.md does not say all passed"; fi
done
j="$TMP/suite/junit.xml"
expect_grep "$j" "<property name=\"finding: failover loses the writes the replica never got: writes lost in the failover\" value=\"[1-9][0-9]* acknowledged write\(s\) lost\"/>" \
  "junit.xml: a property per finding"
expect_grep "$j" "^finding: writes lost in the failover: [1-9][0-9]* acknowledged write\(s\) lost" \
  "junit.xml: a system-out line per finding"
if command -v xmllint >/dev/null 2>&1; then
  if xmllint --noout --schema "$FL_SRC/tests/data/reports/junit-10.xsd" "$j" 2>"$TMP/xsd"; then
    ok "junit.xml is valid against junit-10.xsd"
  else
    fail "junit.xml: $(cat "$TMP/xsd")"
  fi
fi

# report.html: the findings panel first, the lost writes with their times,
# the metric chart, fl.log notes on the timeline and in the log excerpts;
# then the same from report.json alone (faultline report).
check_html() {
  h=$1
  if py "$h" >"$TMP/py.out" 2>&1 <<'PY'
import re, sys
h = open(sys.argv[1]).read()
def need(cond, what):
    if not cond:
        print("report.html: " + what); sys.exit(1)
need('<div class="verdict v-pass">PASS<small> with 1 finding</small></div>' in h, "the verdict says with 1 finding")
i, t, c = h.find('id="findings"'), h.find('id="timeline"'), h.find('id="checks"')
need(0 < i < t < c, "the findings panel comes first")
panel = h[i:t]
rows = re.findall(r'<tr><td class="n">\d+</td><td class="n">\d+</td><td class="mono">add s (\d+)</td><td>ok</td><td class="n">([\d.]+)</td><td class="n">([\d.]+)</td></tr>', panel)
need(len(rows) >= 1, "the lost writes listed with invoke and completion times")
need(all(float(a) <= float(b) for _, a, b in rows), "invoke before completion")
need("All 6 checks passed" not in h and "<div class=\"allok\">" not in h, "no 'all checks passed'")
need(h.count('class="metric-line"') == 1 and ">replica lag</text>" in h, "the replica lag chart")
# (a note's label is drawn only where it does not run into the previous
# one, which depends on the run's length: its dot's title always has it)
need(h.count('class="note-dot"') == 2 and re.search(r'<title>[\d.]+ s: b promoted in ', h), "the fl.log notes on the timeline")
need("fl.log: replication stalls" in h, "fl.log lines among the log excerpts")
print("%d lost writes listed" % len(rows))
PY
  then ok "$2: $(cat "$TMP/py.out")"; else fail "$2: $(cat "$TMP/py.out")"; fi
}
check_html "$run/report.html" "report.html"
cp -r "$run" "$TMP/copy"
rm -f "$TMP/copy/report.html"
expect_exit 0 "faultline report re-renders from the run directory" -- "$FAULTLINE" report "$TMP/copy"
check_html "$TMP/copy/report.html" "re-rendered report.html"

expect_exit 0 "report merge of the suite" -- "$FAULTLINE" report merge "$TMP/suite" --out "$TMP/merged"
expect_grep "$TMP/out" "^findings: 1 scenario passed with findings" "report merge says what was found"
expect_grep "$TMP/merged/summary.md" "1 scenario passed, 1 of them with findings" "the merged summary.md"
expect_grep "$TMP/merged/junit.xml" "<property name=\"finding: " "the merged junit.xml"

# The service log: one wording for a kill.
expect_grep "$run/logs/a.log" "^\[ *[0-9.]+\] -- faultline: killed by signal 9" "a.log: killed by signal 9"
if grep -q "killed killed" "$run/logs/a.log"; then fail "a.log says killed twice"; else ok "a.log says killed once"; fi

# Misuse: one clear message with the scenario's line, exit 2.
cat >"$TMP/bad.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("nan metric", function()
  fl.metric("lag", 0 / 0)
end)
fl.scenario("fault without kind", function()
  fl.fault{ targets = { "a" } }
end)
fl.scenario("fault with a typo", function()
  fl.fault{ kind = "failover", target = { "a" } }
end)
fl.scenario("recovery after a log never written", function()
  fl.check.recovery{ after = { log = "never" } }
end)
LUA
expect_exit 2 "misused calls are errors" -- "$FAULTLINE" run "$TMP/bad.lua" --out "$TMP/bad"
expect_grep "$TMP/out" "bad.lua:3: fl.metric: 'lag': the value must be a finite number" "fl.metric names the line"
expect_grep "$TMP/out" "bad.lua:6: fl.fault: 'kind' .* is required" "fl.fault without a kind"
expect_grep "$TMP/out" "bad.lua:9: fl.fault: unknown option 'target'" "fl.fault with an unknown option"
expect_grep "$TMP/out" "no fl.log line contains \"never\"" "recovery after a missing fl.log line"
finish
