#!/bin/sh
# The test hosts (lib/hosts.sh) the remote_* tests run on: three namespaces,
# each with its own sshd on its own address, reachable with the test's key
# under strict host key checking, each in a network namespace of its own; a
# key the hosts do not know is refused; `faultline cleanup` leaves a live
# test's hosts alone; everything goes when the test ends, and when the test's
# shell is killed with SIGKILL (the watcher).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

hosts_up 3
ok "3 test hosts up on $HOSTS_NET.0/24 (id $HOSTS_ID)"
ours=$(readlink /proc/self/ns/net)
seen=""
for i in 1 2 3; do
  addr=$(eval echo "\$HOSTS_ADDR_$i")
  out=$(hosts_ssh $i 'ip -4 -o addr show dev eth0; readlink /proc/self/ns/net' 2>&1)
  case "$out" in
  *"inet $addr/24"*) ok "host $i answers over ssh on $addr" ;;
  *) fail "host $i: ssh gave: $out" ;;
  esac
  ns=$(echo "$out" | tail -1)
  [ "$ns" != "$ours" ] && case " $seen " in *" $ns "*) false ;; *) true ;; esac &&
    ok "host $i runs in a network namespace of its own" ||
    fail "host $i shares a network namespace ($ns; ours $ours; others$seen)"
  seen="$seen $ns"
done
# Host 2 reaches host 3 (the hosts see each other), and nothing else: no
# default route.
hosts_ssh 2 "ip route show default" >"$TMP/route" 2>&1
[ -s "$TMP/route" ] && fail "host 2 has a default route: $(cat "$TMP/route")" ||
  ok "host 2 has no default route"

ssh-keygen -q -t ed25519 -N '' -f "$TMP/stranger" </dev/null
if ssh -F none -i "$TMP/stranger" -o IdentitiesOnly=yes -o BatchMode=yes \
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$HOSTS_KNOWN" \
  "root@$HOSTS_ADDR_1" true 2>"$TMP/refused"; then
  fail "a key the hosts do not know was let in"
else
  expect_grep "$TMP/refused" "Permission denied" "a key the hosts do not know is refused"
fi

"$FAULTLINE" cleanup >"$TMP/cleanup" 2>&1
[ -e "/run/netns/$HOSTS_NS_1" ] && hosts_ssh 1 true &&
  ok "faultline cleanup leaves a live test's hosts alone" ||
  { fail "faultline cleanup removed a live test's hosts"; cat "$TMP/cleanup" >&2; }

id=$HOSTS_ID
hosts_down
left=$(ls -d /run/netns/fl$id-* /sys/class/net/fl$id* /run/faultline/run-$id 2>/dev/null)
[ -z "$left" ] && ok "hosts_down leaves nothing" || fail "left after hosts_down: $left"
pgrep -f "$TMP/hosts/sshd" >/dev/null && fail "an sshd outlived hosts_down" ||
  ok "no sshd left after hosts_down"

# SIGKILL of the test's shell: its watcher removes the hosts within ~2 s.
FL_SRC=$FL_SRC TMP=$TMP/killed sh -c '
  mkdir -p "$TMP"
  . "$FL_SRC/tests/integration/lib/skip.sh"
  fail() { echo "FAIL: $*" >&2; }
  finish() { exit 1; }
  . "$FL_SRC/tests/integration/lib/hosts.sh"
  hosts_up 1
  echo "$HOSTS_ID" >"$TMP/../killed.id"
  exec sleep 60' >"$TMP/killed.out" 2>&1 &
pid=$!
t=0
while [ ! -s "$TMP/killed.id" ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
kid=$(cat "$TMP/killed.id" 2>/dev/null)
if [ -z "$kid" ]; then
  fail "the killed test's hosts never came up"
  cat "$TMP/killed.out" >&2
else
  kill -9 $pid
  t=0
  while [ $t -lt 50 ]; do
    left=$(ls -d /run/netns/fl$kid-* /sys/class/net/fl$kid* /run/faultline/run-$kid \
      2>/dev/null; pgrep -f "$TMP/killed/hosts/sshd")
    [ -z "$left" ] && break
    sleep 0.1
    t=$((t + 1))
  done
  [ -z "$left" ] && ok "SIGKILL of the test's shell: its hosts are gone" ||
    fail "left 5 s after SIGKILL of the test's shell: $left"
fi

# Without the watcher (killed too), `faultline cleanup` finds a dead test's
# hosts by their names and state files and removes them. It does not kill
# processes inside a namespace, so the test kills the sshd itself.
FL_SRC=$FL_SRC TMP=$TMP/dead sh -c '
  mkdir -p "$TMP"
  . "$FL_SRC/tests/integration/lib/skip.sh"
  fail() { echo "FAIL: $*" >&2; }
  finish() { exit 1; }
  . "$FL_SRC/tests/integration/lib/hosts.sh"
  hosts_up 1
  kill -9 $(cat "$HOSTS_DIR/watcher.pid")
  echo "$HOSTS_ID" >"$TMP/../dead.id"
  exec sleep 60' >"$TMP/dead.out" 2>&1 &
pid=$!
t=0
while [ ! -s "$TMP/dead.id" ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
did=$(cat "$TMP/dead.id" 2>/dev/null)
if [ -z "$did" ]; then
  fail "the dead test's hosts never came up"
  cat "$TMP/dead.out" >&2
else
  sshd=$(ip netns pids "fl$did-1")
  kill -9 $pid
  wait $pid 2>/dev/null # reaped: a zombie still looks alive to cleanup
  kill -9 $sshd
  "$FAULTLINE" cleanup >"$TMP/cleanup2" 2>&1
  expect_grep "$TMP/cleanup2" "run $did is gone" "faultline cleanup finds a dead test's hosts"
  left=$(ls -d /run/netns/fl$did-* /sys/class/net/fl$did* /run/faultline/run-$did \
    2>/dev/null; grep -l "$did" /run/faultline/net-* 2>/dev/null)
  [ -z "$left" ] && ok "faultline cleanup removes them all" ||
    fail "left after faultline cleanup: $left"
fi
finish
