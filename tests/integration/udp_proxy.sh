#!/bin/sh
# fl.udp_proxy through real UDP sockets: loss, duplicates, reordering,
# partition by name.
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || skip "python3 not installed"
expect_exit 0 "UDP faults scenario" -- "$FAULTLINE" run "$SCEN/udp.lua" --out "$TMP/udp" --seed 3
expect_grep "$TMP/udp/report.json" '"kind": "udp"' "UDP faults on the timeline"
expect_no_leftovers "after the UDP scenario"
finish
