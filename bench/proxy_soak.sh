#!/bin/sh
# Does the proxy give back what it takes? Measures, on loopback:
#   1. `faultline proxy` (the Toxiproxy-compatible server): descriptors and
#      RSS before, after 10,000 connections and after 10,000 more;
#   2. a scenario's fl.proxy (`faultline run`): the same, the faultline run
#      process measured;
#   3. a soak: `faultline proxy` with a latency toxic under a bounded load
#      (closed-loop clients, each waiting for its echo, reconnecting every
#      100 round trips), RSS and descriptors sampled each minute.
#
#   bench/proxy_soak.sh [BUILD_DIR]     (default: build)
#
# Environment: CONNS (10000), PAR (clients at a time in the churn, 8),
# SOAK_MINUTES (30), SOAK_CLIENTS (32), SOAK_LATENCY (ms, 10), SOAK_SIZE
# (bytes per round trip, 1024). Prints Markdown tables on stdout; progress on
# stderr. Exit 1 when descriptors do not come back to the start.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CONNS=${CONNS:-10000}
PAR=${PAR:-8}
MINUTES=${SOAK_MINUTES:-30}
CLIENTS=${SOAK_CLIENTS:-32}
LATENCY=${SOAK_LATENCY:-10}
SIZE=${SOAK_SIZE:-1024}
FL=$BUILD/faultline
WORK=$(mktemp -d /tmp/proxy-soak.XXXXXX)
PIDS=""
status=0

cleanup() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

say() { echo "proxy_soak: $*" >&2; }
[ -x "$FL" ] || { say "no $FL: run make first"; exit 2; }
command -v curl >/dev/null || { say "needs curl"; exit 2; }
cc -O2 "$ROOT/bench/proxy_load.c" $(pkg-config --cflags --libs libuv) -lpthread \
  -o "$WORK/proxy_load"
LOAD=$WORK/proxy_load

# What a process holds: "<descriptors> <RSS KiB>".
held() {
  fds=$(ls "/proc/$1/fd" | wc -l)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
  echo "$fds $rss"
}

# Waits until PID holds at most $2 descriptors (its connections closed), up to 20 s.
settle() {
  i=0
  while [ "$i" -lt 200 ]; do
    [ "$(ls "/proc/$1/fd" | wc -l)" -le "$2" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

P_EC=$($LOAD port)
$LOAD echo "$P_EC" & PIDS="$PIDS $!"
$LOAD wait "$P_EC"

# churn NAME PID ADDR: 10,000 connections twice, figures as one table row each.
churn() {
  name=$1 pid=$2 addr=$3
  set -- $(held "$pid"); fd0=$1 rss0=$2
  say "$name: start $fd0 fds, $rss0 KiB; $CONNS connections"
  $LOAD churn "$addr" "$CONNS" "$PAR" >"$WORK/churn1"
  settle "$pid" "$fd0" || true
  set -- $(held "$pid"); fd1=$1 rss1=$2
  say "$name: after $CONNS: $fd1 fds, $rss1 KiB; $CONNS more"
  $LOAD churn "$addr" "$CONNS" "$PAR" >"$WORK/churn2"
  settle "$pid" "$fd0" || true
  set -- $(held "$pid"); fd2=$1 rss2=$2
  echo "| $name | $fd0 / $rss0 | $fd1 / $rss1 | $fd2 / $rss2 | $(cat "$WORK/churn1"), $(cat "$WORK/churn2") |"
  if [ "$fd1" -ne "$fd0" ] || [ "$fd2" -ne "$fd0" ]; then
    say "$name: descriptors did not come back ($fd0 -> $fd1 -> $fd2)"
    status=1
  fi
}

# 1. faultline proxy.
P_API=$($LOAD port)
"$FL" proxy --api "127.0.0.1:$P_API" >"$WORK/api.log" 2>&1 & PID_API=$!
PIDS="$PIDS $PID_API"
$LOAD wait "$P_API"
P_PX=$($LOAD port)
curl -sf -o /dev/null -d "{\"name\":\"churn\",\"listen\":\"127.0.0.1:$P_PX\",\"upstream\":\"127.0.0.1:$P_EC\"}" \
  "127.0.0.1:$P_API/proxies"

echo "| process | start: fds / RSS KiB | after $CONNS connections | after $((2 * CONNS)) | clients |"
echo "| --- | --- | --- | --- | --- |"
churn "faultline proxy" "$PID_API" "127.0.0.1:$P_PX"

# 2. A scenario's fl.proxy: the scenario holds the proxy until a file appears.
P_SC=$($LOAD port)
cat >"$WORK/churn.lua" <<EOF
local fl = require("faultline")
fl.scenario("churn", function()
  local p = fl.proxy{name = "churn", listen = "127.0.0.1:$P_SC", upstream = "127.0.0.1:$P_EC"}
  while not io.open("$WORK/stop", "r") do fl.sleep(0.2) end
end)
EOF
"$FL" run "$WORK/churn.lua" --out "$WORK/run" >"$WORK/run.log" 2>&1 & PID_RUN=$!
PIDS="$PIDS $PID_RUN"
$LOAD wait "$P_SC"
sleep 1 # the scenario's start-up allocations settle
churn "faultline run (fl.proxy)" "$PID_RUN" "127.0.0.1:$P_SC"
touch "$WORK/stop"
wait "$PID_RUN" || say "the scenario ended with $? (see below)"
tail -3 "$WORK/run.log" >&2

# 3. The soak.
curl -sf -o /dev/null -d "{\"name\":\"soak\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$P_EC\"}" \
  "127.0.0.1:$P_API/proxies"
SOAK=$(curl -sf "127.0.0.1:$P_API/proxies/soak" | sed 's/.*"listen":"\([^"]*\)".*/\1/')
curl -sf -o /dev/null -d "{\"type\":\"latency\",\"attributes\":{\"latency\":$LATENCY,\"jitter\":2}}" \
  "127.0.0.1:$P_API/proxies/soak/toxics"
curl -sf -o /dev/null -d "{\"type\":\"latency\",\"stream\":\"upstream\",\"attributes\":{\"latency\":$LATENCY}}" \
  "127.0.0.1:$P_API/proxies/soak/toxics"
say "soak: $MINUTES min, $CLIENTS clients, $SIZE bytes a round trip, latency $LATENCY ms each way"
$LOAD soak "$SOAK" "$CLIENTS" $((MINUTES * 60)) "$SIZE" >"$WORK/soak" & PID_SOAK=$!
echo
echo "| minute | fds | RSS KiB |"
echo "| --- | --- | --- |"
m=0
while [ "$m" -le "$MINUTES" ]; do
  set -- $(held "$PID_API")
  echo "| $m | $1 | $2 |"
  say "soak minute $m: $1 fds, $2 KiB"
  m=$((m + 1))
  [ "$m" -le "$MINUTES" ] && sleep 60
done
wait "$PID_SOAK"
echo
echo "soak load: $(cat "$WORK/soak")"
exit $status
