#!/bin/sh
# No process outlives a run: not after a pass, a failed check, a failed
# expectation, a Lua error, a failing task, a time limit, Ctrl-C, or kill -9
# of faultline itself.
. "$(dirname "$0")/lib/common.sh"

"$FAULTLINE" run "$SCEN/outcomes.lua" --out "$TMP/o" >"$TMP/out" 2>&1
code=$?
[ "$code" = 2 ] && ok "outcomes: exit 2 (worst of pass, fail, error)" || fail "outcomes exit $code"
for s in passes a-check-fails an-expectation-fails a-lua-error a-spawned-task-fails the-time-limit; do
  [ -f "$TMP/o/$s/report.json" ] && ok "report for $s" || fail "no report for $s"
done
expect_grep "$TMP/o/passes/report.json" '"status": "pass"' "pass"
expect_grep "$TMP/o/an-expectation-fails/report.json" '"status": "fail"' "failed expectation: fail"
expect_grep "$TMP/o/a-lua-error/report.json" "outcomes.lua:[0-9]+: attempt to index a nil value" "Lua error with file:line"
expect_grep "$TMP/o/a-spawned-task-fails/report.json" "task exploded" "task error reported"
expect_grep "$TMP/o/the-time-limit/report.json" "time limit of 1 s" "time limit reported"
expect_no_leftovers "after every outcome"

# Ctrl-C: the scenario stops, services are stopped, the report says why.
"$FAULTLINE" run "$SCEN/long-running.lua" --out "$TMP/int" >"$TMP/int.out" 2>&1 &
pid=$!
i=0
until grep -q "services up" "$TMP/int.out" 2>/dev/null || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -n "$(marked_pids)" ] && ok "services running before SIGINT" || fail "no services before SIGINT"
kill -INT $pid
wait $pid
code=$?
[ "$code" = 2 ] && ok "SIGINT: exit 2" || fail "SIGINT: exit $code"
expect_grep "$TMP/int/report.json" "interrupted by SIGINT" "SIGINT recorded in the report"
expect_no_leftovers "after SIGINT"

# kill -9: the kernel (PR_SET_PDEATHSIG) and the reaper clean up.
"$FAULTLINE" run "$SCEN/long-running.lua" --out "$TMP/kill" >"$TMP/kill.out" 2>&1 &
pid=$!
i=0
until grep -q "services up" "$TMP/kill.out" 2>/dev/null || [ $i -gt 100 ]; do sleep 0.1; i=$((i+1)); done
n=$(marked_pids | wc -l)
[ "$n" -ge 4 ] && ok "$n service processes (with children) before kill -9" || fail "only $n processes before kill -9"
kill -9 $pid
wait $pid 2>/dev/null
expect_no_leftovers "2 s after kill -9 of faultline" 2
expect_grep "$TMP/kill/report.json" '"status": "error"' "a killed run leaves report.json with status error"
[ -s "$TMP/kill/timeline.jsonl" ] && ok "and its timeline" || fail "no timeline.jsonl after kill -9"
finish
