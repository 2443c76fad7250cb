#!/bin/sh
# The Redis scenario pack (scenarios/redis) against Debian's redis-server:
# the failover scenario finds and counts lost acknowledged writes (an
# expected finding, so it passes), the replica restart passes, nothing is
# left running and nothing is written outside the run directories.
. "$(dirname "$0")/lib/common.sh"
REDIS=${FL_REDIS_SERVER:-redis-server}
command -v "$REDIS" >/dev/null ||
  skip "redis-server not installed (apt-get install redis-server, or tools/deps.sh test as root)"
PACK=$FL_SRC/scenarios/redis
# Services inherit faultline's working directory: any process still there
# after the run is a leftover, even one whose environment no longer shows
# the test's marker (nginx writes its process title over it).
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

expect_exit 0 "the redis pack passes" -- "$FAULTLINE" suite \
  "$PACK/failover-loses-writes.lua" "$PACK/replica-restart.lua" "$PACK/nemesis-replicas.lua" \
  --jobs 1 --out "$TMP/runs"
expect_grep "$TMP/out" "3 passed, 0 failed, 0 errors" "all three scenarios passed"

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

nem=$(ls -d "$TMP"/runs/*nemesis*/ 2>/dev/null | head -1)
[ -n "$nem" ] && expect_grep "$nem/report.json" '"schedule": *\[' "the nemesis run has its schedule" ||
  fail "no run directory for the nemesis scenario"
expect_pack_clean "after the redis pack"
finish
