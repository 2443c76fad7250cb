#!/bin/sh
# `faultline init DIR` writes a starter layout that runs green as written:
# the suite command its CI files run passes in a fresh folder, with a report
# and junit.xml; init never overwrites a file.
. "$(dirname "$0")/lib/common.sh"

P=$TMP/fresh/project
expect_exit 0 "init writes the layout" -- "$FAULTLINE" init "$P"
for f in scenarios/web-recovers.lua scenarios/lib/web.lua .github/workflows/faultline.yml \
  .gitlab-ci.yml README.md .gitignore; do
  [ -s "$P/$f" ] && ok "$f written" || fail "$f missing"
done

# The CI files run the same command; run it as they do, in the new folder.
gh=$(sed -n 's/^ *run: \(faultline suite .*\)$/\1/p' "$P/.github/workflows/faultline.yml")
gl=$(sed -n 's/^ *- \(faultline suite .*\)$/\1/p' "$P/.gitlab-ci.yml")
[ -n "$gh" ] && [ "$gh" = "$gl" ] && ok "both CI files run: $gh" ||
  fail "the CI files' suite commands differ or are missing: '$gh' / '$gl'"
expect_grep "$P/.github/workflows/faultline.yml" "upload-artifact" "GitHub keeps the reports"
expect_grep "$P/.gitlab-ci.yml" "junit: faultline-runs/junit.xml" "GitLab reads the JUnit file"

cd "$P" || exit 1
# shellcheck disable=SC2086 # the command line as the CI files have it
expect_exit 0 "the starter suite runs green as written" -- \
  env PATH="$(dirname "$FAULTLINE"):$PATH" sh -c "$gh"
expect_grep "$TMP/out" "1 passed, 0 failed, 0 errors" "one scenario passed"
expect_grep faultline-runs/junit.xml 'failures="0"' "junit.xml has no failure"
report=$(ls faultline-runs/*/report.json | head -1)
expect_grep "$report" '"name": "recovery after down of client, web"' "the recovery check ran on the fault"
expect_grep "$report" '"name": "availability after down of client, web"' "the availability check ran"
expect_grep "$report" '"kind": "down"' "the fault is on the timeline"

# Nothing is overwritten, nothing half-written.
echo "mine" >"$TMP/fresh/other.lua"
mkdir -p "$TMP/partial/scenarios/lib" && echo "keep" >"$TMP/partial/scenarios/lib/web.lua"
expect_exit 2 "init refuses a folder with one of its files" -- "$FAULTLINE" init "$TMP/partial"
expect_grep "$TMP/err" "scenarios/lib/web.lua already exists" "names the file"
[ "$(cat "$TMP/partial/scenarios/lib/web.lua")" = keep ] && [ ! -e "$TMP/partial/README.md" ] &&
  ok "wrote nothing" || fail "init wrote into a folder it refused"
expect_exit 2 "two folders" -- "$FAULTLINE" init a b

[ "$failures" -eq 0 ]
