#!/bin/sh
# faultline suite: every scenario of a folder, in parallel, sharded, with one
# junit.xml and summary.md; report merge joins shards.
. "$(dirname "$0")/lib/common.sh"
S=$SCEN/suite

expect_exit 0 "list" -- "$FAULTLINE" suite "$S" --list
n=$(grep -c ' :: ' "$TMP/out")
[ "$n" = 9 ] && ok "9 scenarios listed" || fail "listed $n scenarios, want 9"

expect_exit 1 "suite with a failing scenario exits 1" -- \
  "$FAULTLINE" suite "$S" --jobs 3 --out "$TMP/all" --junit "$TMP/all/junit.xml"
expect_grep "$TMP/out" "8 passed, 1 failed, 0 errors" "counts"
[ $(ls -d "$TMP"/all/*/ | wc -l) = 9 ] && ok "one run directory per scenario" || fail "run directories: $(ls "$TMP/all")"
[ $(ls "$TMP"/all/*/report.html | wc -l) = 9 ] && ok "one report.html per scenario" || fail "missing report.html"
if command -v xmllint >/dev/null; then
  xmllint --noout "$TMP/all/junit.xml" && ok "junit.xml is well-formed" || fail "junit.xml is not XML"
  if [ -f "$FL_SRC/tests/data/reports/junit-10.xsd" ]; then
    xmllint --noout --schema "$FL_SRC/tests/data/reports/junit-10.xsd" "$TMP/all/junit.xml" 2>/dev/null &&
      ok "junit.xml is valid against the JUnit schema" || fail "junit.xml does not validate"
  fi
else skip_part "xmllint not installed (libxml2-utils): junit.xml not validated"
fi
expect_grep "$TMP/all/junit.xml" 'tests="2"' "a testsuite per file, a testcase per scenario"
expect_grep "$TMP/all/junit.xml" "<failure" "the failing scenario is a failure"
expect_grep "$TMP/all/summary.md" "fails on purpose" "summary names the failure"

# Shards: disjoint, and together everything.
: >"$TMP/shards"
for k in 1 2 3; do
  "$FAULTLINE" suite "$S" --shard $k/3 --list >>"$TMP/shards"
done
total=$(sort "$TMP/shards" | uniq | wc -l)
dups=$(sort "$TMP/shards" | uniq -d | wc -l)
[ "$total" = 9 ] && [ "$dups" = 0 ] && ok "3 shards cover the 9 scenarios once" ||
  fail "shards: $total distinct, $dups duplicated"
"$FAULTLINE" suite "$S" --shard 2/3 --list >"$TMP/again"
"$FAULTLINE" suite "$S" --shard 2/3 --list >"$TMP/again2"
cmp -s "$TMP/again" "$TMP/again2" && ok "a shard is stable" || fail "shard 2/3 changed between calls"

"$FAULTLINE" suite "$S" --shard 1/2 --out "$TMP/sh1" >/dev/null 2>&1
"$FAULTLINE" suite "$S" --shard 2/2 --out "$TMP/sh2" >/dev/null 2>&1
expect_exit 1 "merge of two shards" -- "$FAULTLINE" report merge "$TMP/sh1" "$TMP/sh2" --out "$TMP/merged"
expect_grep "$TMP/out" "merged 9 report" "merge finds every report"
expect_grep "$TMP/merged/summary.md" "fails on purpose" "merged summary"

expect_exit 2 "bad shard" -- "$FAULTLINE" suite "$S" --shard 4/3
expect_exit 2 "no scenario files" -- "$FAULTLINE" suite "$TMP/empty-nothing"
# A file that does not load is an error of the outputs too, not a line on
# stderr beside a summary that says "all passed".
expect_exit 2 "a file that does not load" -- \
  "$FAULTLINE" suite "$SCEN/syntax-error.lua" "$SCEN/suite/s1.lua" --out "$TMP/broken"
expect_grep "$TMP/broken/summary.md" "did not pass" "summary.md does not say all passed"
expect_grep "$TMP/broken/summary.md" "1 error" "summary.md counts the error"
expect_grep "$TMP/broken/junit.xml" 'errors="1"' "junit.xml counts the error"
# --junit outside --out: the links still lead to each report.html.
mkdir -p "$TMP/elsewhere"
expect_exit 0 "junit outside the output folder" -- \
  "$FAULTLINE" suite "$SCEN/suite/s1.lua" --out "$TMP/o2" --junit "$TMP/elsewhere/j.xml"
link=$(grep -o 'report: [^ <"&]*report.html' "$TMP/elsewhere/j.xml" | head -1 | cut -c9-)
[ -n "$link" ] && [ -f "$TMP/elsewhere/$link" ] && ok "the junit link leads to report.html ($link)" ||
  fail "junit link '$link' does not lead to a report.html from $TMP/elsewhere"
expect_no_leftovers "after the suites"
finish
