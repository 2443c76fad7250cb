#!/bin/sh
# kvnode_replication: three kvnodes on loopback, driven with curl.
#   - a write through a follower is read at the leader and at the other follower
#   - the leader killed with SIGKILL (and a torn record left at the end of its
#     log) comes back with what it acknowledged, and serves no read until a
#     majority holds its log again
#   - a follower that missed 20 writes catches up after a restart
#   - compare-and-set: applied, mismatch, absent key
#   - no majority: the write times out (503), stays invisible, then takes effect
#   - --unsafe: a follower cut off from the leader serves a stale read; a safe
#     follower refuses (503) when the leader is stopped
# Env: KVNODE=path to the binary (default build/kvnode); KVNODE_KEEP=1 keeps
# the data and logs. Exit 0 pass, 1 fail, 77 skip. Every process it starts is killed on exit.
set -u

KVNODE=${KVNODE:-build/kvnode}
if [ ! -x "$KVNODE" ]; then
  . "$(dirname "$0")/lib/skip.sh"
  skip "no kvnode binary at $KVNODE"
fi
if ! command -v curl >/dev/null 2>&1; then
  . "$(dirname "$0")/lib/skip.sh"
  skip "curl is not installed"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvnode_test.XXXXXX") || exit 1
PID0='' PID1='' PID2=''
BLIND=''   # node whose address the next started node is told wrongly

cleanup() {
  for p in $PID0 $PID1 $PID2; do
    kill -CONT "$p" 2>/dev/null
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ -n "${KVNODE_KEEP:-}" ]; then
    echo "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
  echo "FAIL: $*"
  for i in 0 1 2; do
    echo "--- node $i log (tail)"
    tail -n 15 "$TMP/n$i.log" 2>/dev/null
  done
  exit 1
}

# Four free ports: three nodes and one where nothing listens.
PORTS=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' 2>/dev/null) || PORTS=''
if [ -z "$PORTS" ]; then
  b=$((20000 + $$ % 20000))
  PORTS="$b $((b + 1)) $((b + 2)) $((b + 3))"
fi
set -- $PORTS
PORT0=$1 PORT1=$2 PORT2=$3 DEAD=$4

port() { eval "echo \$PORT$1"; }
pid() { eval "echo \$PID$1"; }

# start_node I [ARGS...]: starts node I and waits until /health answers.
start_node() {
  i=$1
  shift
  peers=''
  for j in 0 1 2; do
    [ "$j" = "$i" ] && continue
    if [ "$j" = "$BLIND" ]; then
      peers="$peers --peer $j=127.0.0.1:$DEAD"
    else
      peers="$peers --peer $j=127.0.0.1:$(port "$j")"
    fi
  done
  # shellcheck disable=SC2086
  "$KVNODE" --id "$i" --listen "127.0.0.1:$(port "$i")" --data "$TMP/d$i" $peers \
    --timeout-ms 500 "$@" >>"$TMP/n$i.log" 2>&1 &
  eval "PID$i=$!"
  n=0
  until curl -s -m 1 -o /dev/null "http://127.0.0.1:$(port "$i")/health"; do
    n=$((n + 1))
    [ $n -lt 100 ] || fail "node $i did not become ready"
    kill -0 "$(pid "$i")" 2>/dev/null || fail "node $i exited at start"
    sleep 0.05
  done
}

# stop_node I [SIGNAL]: signals node I (TERM by default) and reaps it. With
# TERM, the exit status must be 0.
stop_node() {
  p=$(pid "$1")
  kill "-${2:-TERM}" "$p"
  wait "$p" 2>/dev/null
  rc=$?
  eval "PID$1=''"
  if [ "${2:-TERM}" = TERM ] && [ $rc -ne 0 ]; then
    fail "node $1 exited with $rc after SIGTERM"
  fi
}

# http METHOD NODE PATH [BODY]: sets CODE and BODY.
http() {
  rm -f "$TMP/body"
  url="http://127.0.0.1:$(port "$2")$3"
  if [ $# -ge 4 ]; then
    CODE=$(curl -s -m 5 -o "$TMP/body" -w '%{http_code}' -X "$1" --data-binary "$4" "$url")
  else
    CODE=$(curl -s -m 5 -o "$TMP/body" -w '%{http_code}' -X "$1" "$url")
  fi
  BODY=$(cat "$TMP/body" 2>/dev/null)
}

# expect NAME CODE [BODY]: checks the last answer.
expect() {
  if [ "$CODE" != "$2" ] || { [ $# -ge 3 ] && [ "$BODY" != "$3" ]; }; then
    fail "$1: got $CODE '$BODY', want $2 '${3-}'"
  fi
  echo "ok - $1"
}

# eventually NAME CMD...: retries CMD for up to 5 s.
eventually() {
  name=$1
  shift
  n=0
  until "$@"; do
    n=$((n + 1))
    [ $n -lt 100 ] || fail "$name: not within 5 s"
    sleep 0.05
  done
  echo "ok - $name"
}

field() { # field NODE NAME: a number from /status
  curl -s -m 2 "http://127.0.0.1:$(port "$1")/status" |
    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

caught_up() { # caught_up NODE: its applied equals the leader's committed
  a=$(field "$1" applied)
  c=$(field 0 committed)
  [ -n "$a" ] && [ -n "$c" ] && [ "$a" = "$c" ]
}

reads() { # reads NODE KEY VALUE: a GET answers 200 VALUE
  http GET "$1" "/kv/$2"
  [ "$CODE" = 200 ] && [ "$BODY" = "$3" ]
}

start=$(date +%s)
for i in 0 1 2; do start_node $i; done

# -- basics, through a follower --------------------------------------------
http PUT 1 /kv/a hello;            expect "PUT through follower 1" 200 ok
http GET 0 /kv/a;                  expect "GET at the leader" 200 hello
http GET 2 /kv/a;                  expect "GET at follower 2 (forwarded)" 200 hello
http GET 1 /kv/missing;            expect "GET of a missing key" 404
http DELETE 1 /kv/a;               expect "DELETE is not allowed" 405
http GET 1 /nowhere;               expect "unknown path" 404
http GET 2 /health;                expect "health" 200 ok
head -c 65537 /dev/zero >"$TMP/big"
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$TMP/big" \
  "http://127.0.0.1:$PORT0/kv/big")
expect "a 64 KiB + 1 value is refused" 413
head -c 65536 /dev/urandom >"$TMP/max"
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$TMP/max" \
  "http://127.0.0.1:$PORT2/kv/max")
expect "a 64 KiB binary value through a follower" 200
curl -s -m 5 -o "$TMP/max.back" "http://127.0.0.1:$PORT0/kv/max"
cmp -s "$TMP/max" "$TMP/max.back" || fail "the 64 KiB value came back different"
echo "ok - the 64 KiB value reads back byte for byte"

# -- the leader killed and restarted ----------------------------------------
stop_node 0 KILL
printf 'KVR1 torn' >>"$TMP/d0/kvnode.log" # as a crash in the middle of a write leaves it
http PUT 1 /kv/b during-outage;    expect "a write with the leader down is refused" 503
start_node 0
eventually "the restarted leader serves reads" reads 0 a hello
http GET 0 /kv/max;                expect "the restarted leader still has the 64 KiB value" 200

# The leader restarted without a majority must not serve reads: it does not
# know which of its entries were committed.
stop_node 1
stop_node 2
stop_node 0 KILL
start_node 0
http GET 0 /kv/a;                  expect "no reads at a leader that cannot confirm its log" 503 timeout
start_node 1
eventually "then it serves them with a majority back" reads 0 a hello

# -- a follower misses 20 writes and catches up ----------------------------
i=1
while [ $i -le 20 ]; do
  http PUT 1 "/kv/k$i" "v$i"
  expect "write k$i with follower 2 down" 200 ok >/dev/null
  i=$((i + 1))
done
echo "ok - 20 writes with follower 2 down"
start_node 2 --unsafe
eventually "follower 2 catches up (applied == leader committed)" caught_up 2
eventually "follower 2 holds k20 (local read)" reads 2 k20 v20
http GET 2 /kv/k1;                 expect "follower 2 holds k1" 200 v1

# -- compare-and-set -------------------------------------------------------
http POST 2 /cas/a '{"old":"hello","new":"world"}'; expect "CAS hello->world" 200 ok
http POST 1 /cas/a '{"old":"hello","new":"x"}';     expect "CAS with a stale old" 409 mismatch
http POST 0 /cas/c '{"old":null,"new":"first"}';    expect "CAS on an absent key" 200 ok
http POST 1 /cas/c '{"old":null,"new":"second"}';   expect "CAS absent on a present key" 409 mismatch
http POST 0 /cas/c '{"new":"x"}';                   expect "CAS without old" 400
http GET 1 /kv/a;                                   expect "after CAS" 200 world
http GET 0 /kv/c;                                   expect "after CAS on absent" 200 first

# -- no majority: indeterminate, then applied ------------------------------
stop_node 1
stop_node 2
http PUT 0 /kv/late maybe;         expect "a write without a majority times out" 503 timeout
http GET 0 /kv/late;               expect "and is not visible" 404
start_node 1
eventually "it takes effect once a majority is back" reads 0 late maybe

# -- --unsafe: stale reads from a follower cut off from the leader ---------
start_node 2 --unsafe
eventually "follower 2 caught up again" caught_up 2
eventually "follower 2 reads world" reads 2 a world
stop_node 0
BLIND=2 # the leader is told a dead address for node 2: it cannot reach it
start_node 0
BLIND=''
http PUT 1 /kv/a fresh;            expect "write fresh while follower 2 is cut off" 200 ok
http GET 0 /kv/a;                  expect "the leader reads fresh" 200 fresh
http GET 1 /kv/a;                  expect "safe follower 1 reads fresh" 200 fresh
http GET 2 /kv/a;                  expect "unsafe follower 2 serves the STALE value" 200 world
kill -STOP "$PID0"
http GET 2 /kv/a;                  expect "unsafe follower answers with the leader stopped" 200 world
http GET 1 /kv/a;                  expect "safe follower refuses with the leader stopped" 503
# Indeterminate: the stopped leader may still apply it once it runs again.
http PUT 1 /kv/s never;            expect "writes are refused with the leader stopped" 503
kill -CONT "$PID0"
stop_node 0
start_node 0
eventually "follower 2 catches up after the cut heals" reads 2 a fresh
eventually "and holds all the leader committed" caught_up 2

for i in 0 1 2; do stop_node $i; done
echo "ok - every node exits 0 on SIGTERM"
echo "PASS ($(($(date +%s) - start)) s)"
