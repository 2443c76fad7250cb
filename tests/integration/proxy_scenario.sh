#!/bin/sh
# Proxies from a scenario: a 200 ms latency toxic adds 200 ms (+/- 5) to a
# round trip, partition and heal, disable and enable; bad toxics are a clear
# Lua error with the file and line, exit 2.
. "$(dirname "$0")/lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
expect_exit 0 "latency toxic scenario" -- "$FAULTLINE" run "$SCEN/latency-toxic.lua" --out "$TMP/lat"
expect_grep "$TMP/out" "added .* ms \(want 200" "the added delay is checked"
expect_grep "$TMP/lat/report.json" '"kind": "latency"' "toxics are faults in the report"
for b in negative type stream; do
  export BAD_TOXIC=$b
  expect_exit 2 "bad toxic: $b" -- "$FAULTLINE" run "$SCEN/bad-toxic.lua" --out "$TMP/bad-$b"
  expect_grep "$TMP/out" "bad-toxic.lua:[0-9]+: proxy " "bad toxic ($b) names the file and line"
done
expect_no_leftovers "after the proxy scenarios"
finish
