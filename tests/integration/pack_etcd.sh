#!/bin/sh
# The etcd scenario pack (scenarios/etcd): Debian's etcd-server 3.4, three
# members with a fault proxy on each peer port. The short scenarios (kill -9
# and restart, leader paused past the election timeout, peer latency, and,
# when the namespace layer is there, the leader isolated from the majority)
# must pass: etcd is linearizable. Its negative control, serializable reads
# on an isolated leader, must find stale reads (an expected finding). The
# one-minute soak (scenarios/etcd/soak) is not run here. Nothing is left
# running, nothing written outside the run directories.
. "$(dirname "$0")/lib/common.sh"
ETCD=${FL_ETCD:-etcd}
command -v "$ETCD" >/dev/null ||
  skip "etcd not installed (apt-get install etcd-server etcd-client, or tools/deps.sh test as root)"
PACK=$FL_SRC/scenarios/etcd
# Services inherit faultline's working directory: any process still there
# after the run is a leftover, even one whose environment no longer shows
# the test's marker (nginx writes its process title over it).
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

expect_exit 0 "the etcd pack passes" -- "$FAULTLINE" suite \
  "$PACK/kill-restart.lua" "$PACK/pause-leader.lua" "$PACK/peer-latency.lua" \
  "$PACK/partition-leader.lua" "$PACK/serializable-reads-stale.lua" "$PACK/nemesis.lua" --jobs 1 --out "$TMP/runs"
expect_grep "$TMP/out" "7 passed, 0 failed, 0 errors" "all seven scenarios passed"
for d in "$TMP"/runs/*/; do
  [ -f "$d/report.json" ] || continue
  if grep -q SKIPPED "$d/timeline.jsonl" 2>/dev/null; then
    skip_part "$(basename "$d"): $(grep -o 'SKIPPED[^"]*' "$d/timeline.jsonl" | head -1)"
    continue
  fi
  case "$d" in
  *serializable*) expect_grep "$d/report.json" '"expected_finding": *true' \
    "$(basename "$d"): the stale read found" ;;
  *) expect_grep "$d/report.json" '"kind": *"linearizable"' "$(basename "$d"): linearizability checked" ;;
  esac
  [ -d "$d/data/e1/member" ] || fail "$(basename "$d"): no etcd data directory under the run directory"
done

expect_pack_clean "after the etcd pack"
finish
