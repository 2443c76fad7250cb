#!/bin/sh
# The etcd pack on three remote hosts with one flag (issue 16): `faultline
# run scenarios/etcd/partition-leader.lua --hosts hosts.lua` starts a member
# on each test host (lib/hosts.sh) through its agent, isolates the leader
# with nftables rules on the hosts, and passes the same checks as locally:
# a new leader, a linearizable history, recovery after the heal, convergence.
# Afterwards no etcd, agent or nftables table is left on any host.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

ETCD=${FL_ETCD:-$(command -v etcd || true)}
[ -n "$ETCD" ] || skip "etcd not installed (tools/deps.sh: etcd-server)"
hosts_up 3
command -v nft >/dev/null 2>&1 || skip "nft not installed (tools/deps.sh)"
cat >"$TMP/hosts.lua" <<LUA
local h = {}
for i, a in ipairs({ "$HOSTS_ADDR_1", "$HOSTS_ADDR_2", "$HOSTS_ADDR_3" }) do
  h[i] = { name = "n" .. i, address = a, user = "root", identity = "$HOSTS_KEY",
           known_hosts = "$HOSTS_KNOWN" }
end
return h
LUA
expect_exit 0 "the etcd pack's leader partition on three hosts" -- \
  env FL_ETCD="$ETCD" "$FAULTLINE" run "$FL_SRC/scenarios/etcd/partition-leader.lua" \
  --hosts "$TMP/hosts.lua" --out "$TMP/r" -q \
  --only "etcd leader isolated from the majority, --pre-vote (netns)"
python3 - "$TMP/r/report.json" <<'PY' && ok "the same checks as locally passed, the partition host-side" || fail "report: see above"
import json, sys
r = json.load(open(sys.argv[1]))
checks = {c["name"]: c["status"] for c in r["checks"]}
print(json.dumps(checks, indent=1), file=sys.stderr)
assert r["status"] == "pass", r["status"]
kinds = {c["kind"] for c in r["checks"]}
assert "linearizable" in kinds and "recovery" in kinds and "isolated" in kinds, kinds
parts = [f for f in r["faults"] if f["kind"] == "partition"]
assert parts and parts[0]["attrs"]["layer"] == "hosts", parts
assert [h["name"] for h in r["hosts"]] == ["n1", "n2", "n3"], r["hosts"]
PY
grep -q "SKIPPED" "$TMP/r/timeline.jsonl" && fail "the scenario skipped itself"
for i in 1 2 3; do
  ns=$(eval echo "\$HOSTS_NS_$i")
  left=""
  for p in $(ip netns pids "$ns"); do
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qE "(^|/)etcd | agent --run " && left="$left $p"
  done
  ip netns exec "$ns" nft list tables 2>/dev/null | grep -q "inet flr" && left="$left table"
  [ -z "$left" ] && ok "host n$i: nothing left" || fail "host n$i: left$left"
done
finish
