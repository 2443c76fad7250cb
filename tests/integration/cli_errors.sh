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
# A folder or a missing file is a usage error before anything is created:
# no run directory, no report (run from an empty folder to see that).
mkdir -p "$TMP/somedir"
for target in "$TMP/somedir" "$TMP/missing.lua"; do
  rm -rf "$TMP/cwd" && mkdir "$TMP/cwd"
  expect_exit 2 "run $(basename "$target")" -- sh -c 'cd "$1" && exec "$2" run "$3"' sh \
    "$TMP/cwd" "$FAULTLINE" "$target"
  [ "$(wc -l <"$TMP/err")" = 2 ] && grep -q "^faultline run: .*$target" "$TMP/err" &&
    ok "one message naming $target" || fail "message for $target: $(cat "$TMP/err")"
  [ -z "$(ls -A "$TMP/cwd")" ] && ok "nothing created for $target" ||
    fail "run $target created: $(ls -A "$TMP/cwd")"
done
expect_grep "$TMP/err" "cannot read .*missing.lua" "names the missing file"
expect_exit 2 "run with an --out on a folder" -- "$FAULTLINE" run "$TMP/somedir" --out "$TMP/r-dir"
[ ! -e "$TMP/r-dir" ] && ok "no run directory for a folder" || fail "created $TMP/r-dir"
expect_grep "$TMP/err" "somedir is a folder, not a scenario file" "says it is a folder"

# Every command: one message naming the mistake, exit 2; --help exits 0.
expect_exit 2 "run: a value missing" -- "$FAULTLINE" run "$SCEN/outcomes.lua" --seed
expect_grep "$TMP/err" "^faultline run: --seed needs a value" "names the option without a value"
expect_exit 2 "suite: bad --jobs" -- "$FAULTLINE" suite "$SCEN" --jobs 0
expect_grep "$TMP/err" "^faultline suite: --jobs wants a number from 1 to 256" "names --jobs"
expect_exit 2 "suite: unknown option" -- "$FAULTLINE" suite "$SCEN" --bogus
expect_grep "$TMP/err" "^faultline suite: unknown option --bogus" "names the suite option"
expect_exit 2 "report merge: no folder" -- "$FAULTLINE" report merge --out "$TMP/m"
expect_grep "$TMP/err" "^faultline report merge: which folders" "asks for folders"
expect_exit 2 "cleanup: unknown option" -- "$FAULTLINE" cleanup --now
expect_grep "$TMP/err" "^faultline cleanup: unknown option --now" "names the cleanup option"
expect_exit 2 "proxy: stray argument" -- "$FAULTLINE" proxy extra
expect_grep "$TMP/err" "^faultline proxy: unexpected argument \"extra\"" "names the argument"
for cmd in run suite "report merge" proxy cleanup; do
  # shellcheck disable=SC2086 # "report merge" is two words on purpose
  expect_exit 0 "$cmd --help" -- "$FAULTLINE" $cmd --help
  expect_grep "$TMP/out" "^usage: faultline $cmd" "$cmd --help shows its usage"
done
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
# A wrong type or a bad outcome from a generator names the scenario's line,
# not a line inside faultline.
expect_exit 2 "workload mistakes" -- "$FAULTLINE" run "$SCEN/bad-workload.lua" --out "$TMP/badwl"
expect_grep "$TMP/out" "bad-workload.lua:3: fl.workload: 'clients' must be a number" "a wrong type names the line"
expect_grep "$TMP/out" "bad-workload.lua:7: the workload generator's run\(\) returned 'okay'" "a bad outcome names the generator"
finish
