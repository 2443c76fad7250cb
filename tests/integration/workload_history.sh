#!/bin/sh
# `history = w` is w's own operations, not the whole run's (a newcomer's
# three memcached workloads on the same key names were checked together).
. "$(dirname "$0")/lib/common.sh"
expect_exit 0 "a workload is checked on its own operations" -- \
  "$FAULTLINE" run "$SCEN/two-workloads.lua" --out "$TMP/r" --seed 3
expect_grep "$TMP/out" "check real alone.*passed" "the real workload's check passed"
ls "$TMP/r"/history-w1-real.jsonl "$TMP/r"/history-w2-ghost.jsonl >/dev/null 2>&1 &&
  ok "each workload has its history file" || fail "no per-workload history files"
expect_no_leftovers "after two workloads"
finish
