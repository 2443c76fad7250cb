#!/bin/sh
# Benchmarks faultline's TCP proxy against the same traffic direct, through
# HAProxy (tcp mode) and through socat, all on loopback in one run, and prints
# each figure beside its baseline as a ratio:
#   - one bulk TCP stream (iperf3): Gbit/s
#   - redis-benchmark PING (1 and 50 clients): requests/s, p50, p99
#   - a 100 ms latency toxic: added delay over 1,000 round trips
#   - 10,000 idle connections: RSS of the proxy per connection
#
#   bench/proxy_bench.sh [BUILD_DIR]     (default: build)
#
# Needs iperf3, haproxy, socat, redis-server and redis-tools; installs them
# from the distribution when run as root. Writes bench/proxy_results.md.
# Environment: SECONDS_PER_RUN (iperf3, default 5), ROUNDS (each figure is
# the median of this many interleaved runs, default 3), IDLE_CONNS (10000).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
T=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE_CONNS:-10000}
WORK=$(mktemp -d /tmp/proxy-bench.XXXXXX)
PIDS=""

cleanup() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

need=""
for tool in iperf3 haproxy socat redis-server redis-benchmark; do
  command -v $tool >/dev/null 2>&1 || need="$need $tool"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$need" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 haproxy socat \
      redis-server redis-tools >/dev/null
  else
    echo "proxy_bench: missing$need; run: apt-get install iperf3 haproxy socat redis-server redis-tools" >&2
    exit 2
  fi
fi

# The proxy as a program of its own (the helpers rule links fl_base only).
for lib in libfl_faults.a libfl_base.a; do
  [ -f "$BUILD/$lib" ] || { echo "proxy_bench: $BUILD/$lib missing: build first" >&2; exit 2; }
done
cc -O2 -I"$ROOT" "$ROOT/bench/proxy_flproxy.c" "$BUILD/libfl_faults.a" "$BUILD/libfl_base.a" \
  $(pkg-config --cflags --libs libuv jansson) -lm -o "$WORK/flproxy"
cc -O2 "$ROOT/bench/proxy_load.c" $(pkg-config --cflags --libs libuv) -lpthread \
  -o "$WORK/proxy_load"
LOAD=$WORK/proxy_load

# 10,000 connections through one proxy take 20,000 descriptors in the proxy
# (and as many in the client and the server). Raise the limit if allowed;
# where the hard limit is lower, use as many connections as fit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FDMAX=$(ulimit -n)
if [ "$FDMAX" != unlimited ] && [ $((IDLE * 2 + 100)) -gt "$FDMAX" ]; then
  IDLE=$(((FDMAX - 100) / 2))
  echo "descriptor limit $FDMAX: $IDLE idle connections instead of ${IDLE_CONNS:-10000}"
fi

port() { "$LOAD" port; }
bg() { "$@" & PIDS="$PIDS $!"; LAST=$!; }
wait_port() { "$LOAD" wait "$1"; }
# Starts flproxy LISTEN UPSTREAM [OPTIONS]; sets FLPID once it accepts.
flproxy() {
  bg "$WORK/flproxy" "$@" >/dev/null
  FLPID=$LAST
  wait_port "${1##*:}"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status; }

CORES=$(nproc)
MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
KERNEL=$(uname -r)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "faultline proxy benchmark: $CORES cores ($MODEL), kernel $KERNEL"

# Targets: direct, faultline (splice), faultline (read/write), haproxy, socat.
start_targets() { # $1 = upstream port; sets P_FL P_RW P_HA P_SO
  up=$1
  P_FL=$(port); flproxy "127.0.0.1:$P_FL" "127.0.0.1:$up"; PID_FL=$FLPID
  P_RW=$(port); flproxy "127.0.0.1:$P_RW" "127.0.0.1:$up" --no-splice; PID_RW=$FLPID
  P_HA=$(port)
  cat >"$WORK/haproxy.cfg" <<EOF
global
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend f
  bind 127.0.0.1:$P_HA
  default_backend b
backend b
  server s1 127.0.0.1:$up
EOF
  bg haproxy -f "$WORK/haproxy.cfg" -db; PID_HA=$LAST
  P_SO=$(port)
  bg socat "TCP-LISTEN:$P_SO,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$up"; PID_SO=$LAST
  wait_port "$P_HA"; wait_port "$P_SO"
}
stop_targets() { for p in $PID_FL $PID_RW $PID_HA $PID_SO; do stop "$p"; done; }

# 1. Throughput.
P_IP=$(port)
bg iperf3 -s -p "$P_IP" >/dev/null 2>&1; PID_IP=$LAST
wait_port "$P_IP"
start_targets "$P_IP"
gbps() {
  iperf3 -c 127.0.0.1 -p "$1" -t "$T" -f g 2>&1 | awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i+1) == "Gbits/sec") v = $i } END { print v + 0 }'
}
# The median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "== throughput: one iperf3 stream, ${T}s each, median of $ROUNDS rounds"
for name in DIRECT FL RW HA SO; do eval "TPS_$name=''"; done
r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  # Interleaved, so that a noisy moment hurts every path alike.
  for t in DIRECT:$P_IP FL:$P_FL RW:$P_RW HA:$P_HA SO:$P_SO; do
    eval "TPS_${t%%:*}=\"\$TPS_${t%%:*} $(gbps "${t##*:}")\""
  done
done
for name in DIRECT FL RW HA SO; do eval "TP_$name=\$(median \$TPS_$name)"; done
printf '%-26s %8s Gbit/s   (runs:%s)\n' direct "$TP_DIRECT" "$TPS_DIRECT" \
  "faultline (splice)" "$TP_FL" "$TPS_FL" "faultline (read/write)" "$TP_RW" "$TPS_RW" \
  haproxy "$TP_HA" "$TPS_HA" socat "$TP_SO" "$TPS_SO"
printf 'faultline/haproxy %s  faultline/socat %s  faultline/direct %s  (read/write: /haproxy %s)\n' \
  "$(ratio "$TP_FL" "$TP_HA")" "$(ratio "$TP_FL" "$TP_SO")" "$(ratio "$TP_FL" "$TP_DIRECT")" \
  "$(ratio "$TP_RW" "$TP_HA")"
stop_targets; stop "$PID_IP"

# 2. Request/response.
P_RD=$(port)
bg redis-server --port "$P_RD" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --loglevel warning; PID_RD=$LAST
wait_port "$P_RD"
start_targets "$P_RD"
redis() { # port clients -> "rps p50 p99" ("0 0 0" when redis-benchmark failed twice)
  n=$((${2} == 1 ? 20000 : 200000))
  for try in 1 2; do
    out=$(redis-benchmark -h 127.0.0.1 -p "$1" -c "$2" -n "$n" -t ping --csv 2>"$WORK/rb.err" |
      awk -F'","' '/PING_MBULK/ { gsub(/"/, "", $0); split($0, f, ","); print f[2], f[5], f[7] }')
    [ -n "$out" ] && { echo "$out"; return; }
    echo "redis-benchmark -p $1 -c $2 failed: $(tail -c 300 "$WORK/rb.err")" >&2
  done
  echo "0 0 0"
}
echo "== redis-benchmark PING_MBULK: requests/s, p50 ms, p99 ms, median of $ROUNDS rounds"
for c in 1 50; do
  for name in direct faultline faultline_rw haproxy socat; do
    eval "A_$name=''; B_$name=''; C_$name=''"
  done
  r=0
  while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    for t in direct:$P_RD faultline:$P_FL faultline_rw:$P_RW haproxy:$P_HA socat:$P_SO; do
      name=${t%%:*}
      set -- $(redis "${t##*:}" "$c")
      eval "A_$name=\"\$A_$name $1\"; B_$name=\"\$B_$name $2\"; C_$name=\"\$C_$name $3\""
    done
  done
  for name in direct faultline faultline_rw haproxy socat; do
    eval "v=\"\$(median \$A_$name) \$(median \$B_$name) \$(median \$C_$name)\""
    eval "RR_${c}_$name='$v'"
    set -- $v
    printf '%3d clients  %-13s %10s rps  p50 %6s  p99 %6s\n' "$c" "$name" "$1" "$2" "$3"
  done
  eval "d=\$RR_${c}_direct; f=\$RR_${c}_faultline; h=\$RR_${c}_haproxy; s=\$RR_${c}_socat"
  printf '%3d clients  rps faultline/haproxy %s  faultline/socat %s  faultline/direct %s\n' "$c" \
    "$(ratio "${f%% *}" "${h%% *}")" "$(ratio "${f%% *}" "${s%% *}")" "$(ratio "${f%% *}" "${d%% *}")"
  eval "pf=\$(echo \$RR_${c}_faultline | cut -d' ' -f3); ph=\$(echo \$RR_${c}_haproxy | cut -d' ' -f3)"
  printf '%3d clients  p99 faultline/haproxy %s\n' "$c" "$(ratio "$pf" "$ph")"
done
stop_targets; stop "$PID_RD"

# 3. Latency accuracy.
P_EC=$(port)
bg "$LOAD" echo "$P_EC"; PID_EC=$LAST
wait_port "$P_EC"
P_LT=$(port)
flproxy "127.0.0.1:$P_LT" "127.0.0.1:$P_EC" \
  --toxic '{"type":"latency","stream":"downstream","attributes":{"latency":100}}'
PID_LT=$FLPID
BASE=$("$LOAD" rtt "127.0.0.1:$P_EC" 10 100 | sed 's/.*median=\([0-9.]*\).*/\1/')
ACC=$("$LOAD" rtt "127.0.0.1:$P_LT" 10 100 "$BASE")
echo "== 100 ms latency toxic, 1,000 round trips (10 connections x 100), direct median $BASE ms"
echo "added delay (ms): $ACC"
stop "$PID_LT"

# 4. Idle connections.
P_ID=$(port)
flproxy "127.0.0.1:$P_ID" "127.0.0.1:$P_EC"; PID_ID=$FLPID
sleep 0.2
RSS0=$(rss_kb "$PID_ID")
mkfifo "$WORK/hold"
bg sh -c "\"$LOAD\" idle 127.0.0.1:$P_ID $IDLE < \"$WORK/hold\" > \"$WORK/idle.out\""
PID_IDLE=$LAST
exec 7>"$WORK/hold"
i=0
until grep -q ready "$WORK/idle.out" 2>/dev/null; do
  sleep 0.1; i=$((i + 1))
  if [ $i -gt 1200 ] || ! kill -0 "$PID_IDLE" 2>/dev/null; then echo "idle connections failed" >&2; break; fi
done
sleep 0.5
RSS1=$(rss_kb "$PID_ID")
PER=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$IDLE" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
echo "== $IDLE idle connections: RSS $RSS0 KiB -> $RSS1 KiB: $PER bytes per connection"
exec 7>&-
stop "$PID_IDLE"; stop "$PID_ID"; stop "$PID_EC"

# Results file.
RES=$ROOT/bench/proxy_results.md
{
  echo "# faultline TCP proxy: benchmark results"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $CORES cores ($MODEL), Linux $KERNEL."
  echo "Command: \`bench/proxy_bench.sh $(basename "$BUILD")\` (iperf3 ${T}s per run; each figure the median of $ROUNDS interleaved rounds)."
  echo "Every figure comes from this one run on loopback. Load average (1, 5, 15 min)"
  echo "at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg). On a shared"
  echo "2-core machine other work moves single runs by 30% or more: compare ratios"
  echo "within one run, not figures across runs."
  [ "$IDLE" -lt "${IDLE_CONNS:-10000}" ] &&
    echo "The descriptor limit ($FDMAX) allowed $IDLE idle connections, not ${IDLE_CONNS:-10000}."
  echo
  echo "## One bulk stream (iperf3)"
  echo
  echo "| path | Gbit/s | faultline (splice) / this |"
  echo "| --- | --- | --- |"
  echo "| direct | $TP_DIRECT | $(ratio "$TP_FL" "$TP_DIRECT") |"
  echo "| faultline, splice | $TP_FL | 1.00 |"
  echo "| faultline, read/write | $TP_RW | $(ratio "$TP_FL" "$TP_RW") |"
  echo "| HAProxy tcp mode | $TP_HA | $(ratio "$TP_FL" "$TP_HA") |"
  echo "| socat | $TP_SO | $(ratio "$TP_FL" "$TP_SO") |"
  echo
  echo "## redis-benchmark PING_MBULK"
  echo
  echo "| clients | path | requests/s | p50 ms | p99 ms | faultline rps / this |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for c in 1 50; do
    eval "f=\$RR_${c}_faultline"
    for name in direct faultline faultline_rw haproxy socat; do
      eval "v=\$RR_${c}_$name"
      set -- $v
      echo "| $c | $name | $1 | $2 | $3 | $(ratio "${f%% *}" "$1") |"
    done
  done
  echo
  echo "## 100 ms latency toxic (downstream), 1,000 round trips"
  echo
  echo "Added delay over the direct round trip (median $BASE ms), in ms: $ACC"
  echo
  echo "## $IDLE idle connections through one proxy"
  echo
  echo "RSS $RSS0 KiB before, $RSS1 KiB after: $PER bytes per connection."
} >"$RES"
echo "wrote $RES"
