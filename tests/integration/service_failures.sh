#!/bin/sh
# Services that never become ready, crash at start, or ignore SIGTERM: a
# clear error naming the service (with its last log lines), the next
# scenario still runs, and nothing is left behind.
. "$(dirname "$0")/lib/common.sh"

start=$(date +%s)
expect_exit 2 "never ready" -- "$FAULTLINE" run "$SCEN/never-ready.lua" --out "$TMP/nr"
expect_grep "$TMP/out" "service mute did not become ready: tcp 127.0.0.1:[0-9]+: not ready within 1.0 s" \
  "names the service, the probe and the timeout"
expect_grep "$TMP/out" "still booting" "shows the service's last log lines"
expect_grep "$TMP/out" "PASS runs after the failed one" "the next scenario still runs"
expect_grep "$TMP/nr/never-ready/report.json" '"status": "error"' "report says error"
expect_grep "$TMP/nr/never-ready/logs/mute.log" '^\[ *[0-9]+\.[0-9]{3}\] booting' "time-stamped log lines"

expect_exit 2 "crash at start" -- "$FAULTLINE" run "$SCEN/crash-at-start.lua" --out "$TMP/cs"
expect_grep "$TMP/out" "exited with code 3 before it was ready" "says how it exited"
expect_grep "$TMP/out" "config error: no such file" "shows what it printed"
took=$(( $(date +%s) - start ))
# The crash must fail the probe at once, not after its 20 s timeout.
[ "$took" -lt 15 ] && ok "crash detected without waiting for the probe timeout" ||
  fail "crash took ${took}s to be noticed"
expect_grep "$TMP/cs/report.json" '"state": "crashed"' "the crash is on the timeline"

expect_exit 0 "ignores SIGTERM" -- "$FAULTLINE" run "$SCEN/ignores-term.lua" --out "$TMP/it"
expect_grep "$TMP/it/logs/stubborn.log" "sending SIGKILL" "the log says SIGKILL was needed"
expect_no_leftovers "after the failures"
finish
