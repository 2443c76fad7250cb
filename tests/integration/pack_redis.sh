#!/bin/sh
# The Redis scenario pack (scenarios/redis) against Debian's redis-server:
# the failover scenario finds and counts lost acknowledged writes (an
# expected finding, so it passes), the replica restart passes, nothing is
# left running and nothing is written outside the run directories.
. "$(dirname "$0")/lib/common.sh"
REDIS=${FL_REDIS_SERVER:-redis-server}
command -v "$REDIS" >/dev/null ||
  { echo "SKIP: redis-server not installed (apt-get install redis-server, or tools/deps.sh test as root)"; exit 77; }
PACK=$FL_SRC/scenarios/redis
# Services inherit faultline's working directory: any process still there
# after the run is a leftover, even one whose environment no longer shows
# the test's marker (nginx writes its process title over it).
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

expect_exit 0 "the redis pack passes" -- "$FAULTLINE" suite \
  "$PACK/failover-loses-writes.lua" "$PACK/replica-restart.lua" --jobs 1 --out "$TMP/runs"
expect_grep "$TMP/out" "2 passed, 0 failed, 0 errors" "both scenarios passed"

loss=$(ls -d "$TMP"/runs/*failover*/ 2>/dev/null | head -1)
if [ -n "$loss" ] && [ -f "$loss/report.json" ]; then
  expect_grep "$loss/report.json" '"expected_finding": *true' "the loss is marked as an expected finding"
  expect_grep "$loss/report.json" '"lost_count": *[1-9][0-9]*' "report.json counts the lost acknowledged writes"
  expect_grep "$loss/report.html" "expected finding: [1-9][0-9]* acknowledged write\(s\) lost" \
    "report.html shows the count"
  grep -o '"lost_count": *[0-9]*' "$loss/report.json" | head -1 | sed 's/^/    /'
else
  fail "no run directory for the failover scenario under $TMP/runs"
fi
restart=$(ls -d "$TMP"/runs/*replica-restart*/ 2>/dev/null | head -1)
[ -n "$restart" ] && expect_grep "$restart/report.json" '"r2 resynchronised after the restart"' \
  "the restarted replica resynchronised"

cd "$TMP" || exit 1
i=0
while :; do
  left=""
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/cwd" 2>/dev/null)" = "$TMP/cwd" ] && left="$left ${d#/proc/}"
  done
  [ -z "$left" ] || [ $i -ge 50 ] && break
  i=$((i + 1))
  sleep 0.1
done
if [ -z "$left" ]; then
  ok "no process left in the run's working directory"
else
  fail "processes left after 5 s:$left"
  for p in $left; do echo "    $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" >&2; done
  kill -9 $left 2>/dev/null
fi
expect_no_leftovers "after the redis pack" 5
left=$(ls -A "$TMP/cwd")
[ -z "$left" ] && ok "nothing written outside the run directories" ||
  fail "files written in the working directory: $left"
finish
