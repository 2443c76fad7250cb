#!/bin/sh
# fl.tcp speaking RESP to a real redis-server: lines, exact reads, timeouts,
# refused connections.
. "$(dirname "$0")/lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed (apt-get install redis-server)"
expect_exit 0 "RESP over fl.tcp" -- "$FAULTLINE" run "$SCEN/tcp-redis.lua" --out "$TMP/r"
expect_grep "$TMP/out" "check pong: \+PONG: passed" "PING answered"
expect_grep "$TMP/out" "check timeout: ETIMEDOUT" "receive times out"
expect_no_leftovers "after the redis run"
finish
