#!/bin/sh
# The transactional checker end to end: histories recorded by a scenario
# (tests/integration/scenarios/txn-sim.lua) through fl.history and judged by
# fl.check.transactions, and the same histories offline with
# `faultline check --model list-append`. A serial engine passes at
# serializable; a snapshot-isolation engine passes at snapshot isolation
# with its write skew counted as a finding, and fails when claimed
# serializable, naming G2-item with a witness cycle in words.
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"

S=$FL_SRC/tests/integration/scenarios/txn-sim.lua
expect_exit 0 "serial engine" -- "$FAULTLINE" run "$S" --seed 7 --only "serial engine is serializable" --out "$TMP/serial"
expect_exit 0 "snapshot engine at SI" -- "$FAULTLINE" run "$S" --seed 7 --only "snapshot engine at snapshot isolation" --out "$TMP/si"
expect_exit 1 "snapshot engine claimed serializable" -- "$FAULTLINE" run "$S" --seed 7 --only "snapshot engine claimed serializable" --out "$TMP/ser"

python3 - "$TMP" <<'PY' || fail "reports"
import json, sys
t = sys.argv[1]
def check(d, name):
    r = json.load(open(f"{t}/{d}/report.json"))
    return r, next(c for c in r["checks"] if c["name"] == name)
r, c = check("serial", "serial: serializable")
assert c["status"] == "pass" and c["anomaly_count"] == 0, c
r, c = check("si", "snapshot: snapshot-isolation")
assert c["status"] == "pass", c
assert "G2-item" in c["evidence"]["allowed"], c["evidence"]
assert c.get("expected_finding") and c["finding"]["count"] >= 1, c
assert any(f["check"] == "snapshot: snapshot-isolation" for f in r.get("findings", [])), r.get("findings")
r, c = check("ser", "snapshot: serializable")
assert c["status"] == "fail" and "G2-item" in c["evidence"]["forbidden"], c
w = c["evidence"]["anomalies"]["G2-item"][0]
assert len(w["steps"]) >= 2 and sum(s["edge"] == "rw" for s in w["steps"]) >= 2, w
assert "rw" in w["explanation"] and "G2-item" in c["message"], c["message"]
for a in ("G0", "G1a", "G1b", "G1c", "G-single"):
    assert a not in c["evidence"]["anomalies"], (a, c["evidence"]["anomalies"].keys())
print("ok: reports")
PY
ok "report.json: pass, finding, failure with a G2-item witness"

# Offline, on the recorded histories.
expect_exit 0 "offline serial" -- "$FAULTLINE" check "$TMP/serial/history.jsonl" --model list-append
expect_exit 1 "offline SI history as serializable" -- "$FAULTLINE" check "$TMP/si/history.jsonl" --model list-append
grep -q "G2-item" "$TMP/out" && ok "G2-item named" || fail "no G2-item in: $(cat "$TMP/out")"
expect_exit 0 "offline SI history at SI" -- "$FAULTLINE" check "$TMP/si/history.jsonl" --model list-append --consistency snapshot-isolation
expect_exit 2 "unknown consistency" -- "$FAULTLINE" check "$TMP/si/history.jsonl" --model list-append --consistency bogus
expect_exit 2 "a register history is not transactional" -- "$FAULTLINE" check "$FL_SRC/tests/data/histories/valid-kv_two-keys.jsonl" --model list-append
grep -q 'only "txn" operations' "$TMP/out" "$TMP/err" 2>/dev/null && ok "names the f" || fail "message: $(cat "$TMP/out" "$TMP/err")"

# Jepsen's EDN histories (Elle's format), by extension or --format edn.
H=$FL_SRC/tests/data/histories
expect_exit 1 "EDN write skew" -- "$FAULTLINE" check "$H/invalid-list-append_write-skew.edn" --model list-append
grep -q "G2-item" "$TMP/out" && ok "EDN: G2-item named" || fail "EDN: $(cat "$TMP/out")"
expect_exit 0 "EDN write skew at SI" -- "$FAULTLINE" check "$H/invalid-list-append_write-skew.edn" --model list-append --consistency snapshot-isolation
cp "$H/valid-list-append_serial.edn" "$TMP/serial.history"
expect_exit 0 "EDN by --format" -- "$FAULTLINE" check "$TMP/serial.history" --model list-append --format edn
expect_exit 2 "EDN read as JSONL" -- "$FAULTLINE" check "$TMP/serial.history" --model list-append
printf '{:type :invoke, :f :txn, :value [[:r :x nil]]\n' >"$TMP/cut.edn"
expect_exit 2 "a cut EDN history" -- "$FAULTLINE" check "$TMP/cut.edn" --model list-append
grep -q "cut.edn:2: a collection is not closed" "$TMP/out" && ok "names the file and line" || fail "message: $(cat "$TMP/out")"
expect_exit 2 "JSON lines given as EDN" -- "$FAULTLINE" check "$H/invalid-list-append_write-skew.jsonl" --model list-append --format edn
expect_grep "$TMP/out" "looks like JSON lines.*leave out --format edn" "says it is JSON lines"

# A wrong consistency name in a scenario: exit 2, its line.
cat >"$TMP/bad.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("bad", function()
  fl.check.transactions{ consistency = "serialisable" }
end)
LUA
expect_exit 2 "bad consistency in Lua" -- "$FAULTLINE" run "$TMP/bad.lua" --out "$TMP/bad"
grep -q "bad.lua:3" "$TMP/out" "$TMP/err" && ok "the scenario's line" || fail "no line: $(cat "$TMP/out" "$TMP/err")"
finish
