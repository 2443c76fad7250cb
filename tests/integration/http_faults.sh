#!/bin/sh
# HTTP fault rules on a proxy with real clients (scenarios/http-faults.lua
# drives helpers/http_client.py against helpers/http_upstream.py): keep-alive
# with faulted and clean requests on one connection, pipelining, a chunked
# upload, 100-continue, HTTP/1.0, HEAD, a 100 MB download under a response
# delay (sha256 intact, faultline's RSS flat), an Upgrade passed through,
# first = 3, percent = 20 over 500 requests, reset before vs after. Then the
# evidence in report.json and report.html, and bad rules (exit 2).
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || skip "python3 not installed"
command -v curl >/dev/null || skip "curl not installed"

expect_exit 0 "HTTP faults scenario" -- "$FAULTLINE" run "$SCEN/http-faults.lua" \
  --out "$TMP/run" --seed 7
grep -E '^(ok|FAIL|figure):' "$TMP/out" | sed 's/^/    /'
expect_grep "$TMP/out" "^figure: download 100 MB" "the 100 MB download ran"
expect_grep "$TMP/out" "faultline's memory stays flat" "memory flat during the download"

json=$TMP/run/report.json
if python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
faults = {f["attrs"].get("rule"): f for f in r["faults"] if f["kind"].startswith("http_")}
want = {"first3": ("http_reset", 5, 3), "pct": ("http_abort", 500, None),
        "rb": ("http_reset", 1, 1), "slow-big": ("http_delay", 1, 1),
        "tenant-b": ("http_delay", 0, 0)}
for name, (kind, matched, faulted) in want.items():
    f = faults[name]
    a = f["attrs"]
    assert f["kind"] == kind, (name, f["kind"])
    assert a["matched"] == matched, (name, a)
    assert faulted is None or a["faulted"] == faulted, (name, a)
    assert a["proxy"] == "api" and f["end_s"] is not None, (name, f)
assert 65 <= faults["pct"]["attrs"]["faulted"] <= 135
PY
then ok "report.json: each rule a fault with its counters"
else fail "report.json: rule faults or counters wrong"; fi
expect_grep "$TMP/run/report.html" "first3" "report.html names the rule"
expect_grep "$TMP/run/report.html" "rule first3: 3 of 5 matched request\(s\) faulted" "report.html shows the rule's counters in its fault entry"

for b in action two status option; do
  export BAD_RULE=$b
  expect_exit 2 "bad rule: $b" -- "$FAULTLINE" run "$SCEN/http-faults-bad.lua" --out "$TMP/bad-$b"
  expect_grep "$TMP/out" "http-faults-bad.lua:[0-9]+: " "bad rule ($b) names the file and line"
done
expect_grep "$TMP/out" "unknown option 'percentage'" "an unknown option is named"
expect_no_leftovers "after the HTTP fault scenarios"
finish
