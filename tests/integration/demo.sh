#!/bin/sh
# The demo and its failing twin, through real kvnodes and proxies.
. "$(dirname "$0")/lib/common.sh"
[ -x "${KVNODE:-$(dirname "$FAULTLINE")/kvnode}" ] || skip "kvnode not built"

expect_exit 0 "safe demo passes" -- "$FAULTLINE" run "$FL_SRC/scenarios/demo/kvnode.lua" --out "$TMP/safe" --seed 7
expect_grep "$TMP/safe/report.json" '"status": "pass"' "status pass"
expect_grep "$TMP/safe/report.json" '"recovery_s": [0-9.e-]+' "a numeric recovery_s"
expect_grep "$TMP/safe/report.json" '"kind": "partition"' "the partition is in faults[]"
expect_grep "$TMP/safe/report.json" '"kind": "kill"' "the kill is in faults[]"
expect_grep "$TMP/safe/history.jsonl" '"type":"invoke"' "history.jsonl has invokes"
[ -s "$TMP/safe/report.html" ] && ok "report.html written" || fail "no report.html"

expect_exit 0 "the demo under a random nemesis passes" -- "$FAULTLINE" run \
  "$FL_SRC/scenarios/demo/kvnode-nemesis.lua" --out "$TMP/nemesis" --seed 7
expect_grep "$TMP/nemesis/report.json" '"schedule": *\[' "its report has the schedule"
expect_exit 1 "unsafe demo fails" -- "$FAULTLINE" run "$FL_SRC/scenarios/demo/kvnode-unsafe.lua" --out "$TMP/unsafe" --seed 7
expect_grep "$TMP/out" "check linearizable \(kv\): fail: read of key" "names the stale read"
expect_grep "$TMP/unsafe/report.json" '"status": "fail"' "status fail"
expect_grep "$TMP/unsafe/report.json" '"anomaly"|"evidence"' "the anomaly is in the report"
expect_no_leftovers "after the demos"
finish
