#!/bin/sh
# kill -9 of faultline in the middle of the etcd pack on three remote hosts
# (issue 16): while the leader is isolated (the host-side nftables table is
# in place), faultline is killed with SIGKILL; the agents' stdin closes with
# it, and within a few seconds no etcd, no agent and no nftables table is
# left on any host.
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
# left I: what of a run is on host I (etcd, agents, the table), one word each.
left() {
  ns=$(eval echo "\$HOSTS_NS_$1")
  for p in $(ip netns pids "$ns" 2>/dev/null); do
    c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")
    case "$c" in
    *"etcd --name"*) echo "etcd:$p" ;;
    *" agent --run "*) echo "agent:$p" ;;
    esac
  done
  ip netns exec "$ns" nft list tables 2>/dev/null | grep -o "inet flr[0-9a-f]*"
}
tables() { for i in 1 2 3; do left $i; done | grep -c "inet flr"; }
etcds() { for i in 1 2 3; do left $i; done | grep -c "^etcd:"; }

env FL_ETCD="$ETCD" "$FAULTLINE" run "$FL_SRC/scenarios/etcd/partition-leader.lua" \
  --hosts "$TMP/hosts.lua" --out "$TMP/r" -q \
  --only "etcd leader isolated from the majority, --pre-vote (netns)" >"$TMP/run.out" 2>&1 &
run=$!
n=0
while [ $n -lt 150 ] && [ "$(tables)" -eq 0 ]; do
  sleep 0.2
  n=$((n + 1))
done
if [ "$(tables)" -gt 0 ] && [ "$(etcds)" -eq 3 ]; then
  ok "the leader is isolated host-side, three members running"
else
  fail "no partition in place to kill faultline in: $(cat "$TMP/run.out")"
fi
kill -9 $run
wait $run 2>/dev/null
n=0
while [ $n -lt 75 ]; do
  all=$(for i in 1 2 3; do left $i; done)
  [ -z "$all" ] && break
  sleep 0.2
  n=$((n + 1))
done
for i in 1 2 3; do
  l=$(left $i | tr '\n' ' ')
  [ -z "$l" ] && ok "host n$i: no etcd, agent or table after kill -9" || fail "host n$i: left $l"
done
finish
