#!/bin/sh
# fl.exec{..., env=, cwd=, stdin=, timeout=} (unknown keys are errors) and
# task:cancel()/task:canceled(); a canceled fl.exec leaves no process.
. "$(dirname "$0")/lib/common.sh"

expect_exit 0 "fl.exec options" -- \
  env FL_INHERIT=inherited "$FAULTLINE" run "$SCEN/exec-tasks.lua" --only "exec options" --out "$TMP/r1"
expect_grep "$TMP/out" 'exec1=set\|unset\|/' "the command saw env and cwd"
expect_exit 0 "task cancel" -- "$FAULTLINE" run "$SCEN/exec-tasks.lua" --only "task cancel" --out "$TMP/r2"
expect_grep "$TMP/r2/report.json" '"name": "a task in fl.exec is canceled at once"' "the canceled exec was checked"
if pgrep -f "sleep 30" -P $$ >/dev/null 2>&1; then fail "a canceled fl.exec left its command"; else ok "no command left"; fi
[ "$failures" -eq 0 ]
