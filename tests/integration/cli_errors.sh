#!/bin/sh
# Bad input gets one clear message naming the file and line or the field,
# and exit code 2.
. "$(dirname "$0")/lib/common.sh"

expect_exit 2 "syntax error" -- "$FAULTLINE" run "$SCEN/syntax-error.lua" --out "$TMP/r1"
expect_grep "$TMP/err" "syntax-error.lua:4:" "syntax error names the file and line"
expect_grep "$TMP/r1/report.json" '"status": "error"' "syntax error still writes a report"

expect_exit 2 "unknown option key" -- "$FAULTLINE" run "$SCEN/unknown-option.lua" --out "$TMP/r2"
expect_grep "$TMP/out" "unknown-option.lua:3: fl.service: unknown option 'readyy'" \
  "unknown option names the file, line and key"

expect_exit 2 "unknown command-line option" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --frobnicate
expect_grep "$TMP/err" "unknown option --frobnicate" "names the option"
expect_exit 2 "bad seed" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --seed abc
expect_exit 2 "missing file" -- "$FAULTLINE" run "$TMP/nope.lua"
expect_grep "$TMP/err" "cannot read .*nope.lua" "names the missing file"
expect_exit 2 "no such scenario" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --only "nope"
expect_exit 2 "unknown command" -- "$FAULTLINE" frobnicate
expect_exit 2 "no command" -- "$FAULTLINE"
expect_exit 0 "version" -- "$FAULTLINE" version
expect_grep "$TMP/out" "^faultline [0-9]+\.[0-9]+\.[0-9]+" "version prints a version"
expect_exit 0 "help" -- "$FAULTLINE" help
expect_grep "$TMP/out" "faultline run FILE.lua|run FILE.lua" "help shows run"
mkdir -p "$TMP/precious" && echo keep >"$TMP/precious/file"
expect_exit 2 "--out on a directory that is not a run" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --only passes --out "$TMP/precious"
[ -f "$TMP/precious/file" ] && ok "its files are left alone" || fail "--out deleted a user's file"
expect_exit 0 "a run" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --only passes --out "$TMP/again"
echo stale >"$TMP/again/stale-file"
expect_exit 0 "the same --out again" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --only passes --out "$TMP/again"
[ ! -f "$TMP/again/stale-file" ] && ok "an earlier run's files are cleared" || fail "stale files kept"
finish
