#!/bin/sh
# HTTP through faultline's proxy: requests/s and latency (p50, p99) of wrk
# fetching a small static file from nginx, on four paths measured in one run:
#   (a) direct to nginx
#   (b) through a faultline proxy with no HTTP rule (the zero-copy TCP path)
#   (c) through a faultline proxy with one HTTP rule that matches nothing
#       (every request parsed and matched, none faulted)
#   (d) through HAProxy in http mode (the reference HTTP proxy)
# and prints each figure beside (a) and (d) as ratios.
#
#   bench/bench_http.sh [BUILD_DIR]       (default: build)
#
# Needs wrk, nginx and haproxy (tools/deps.sh bench installs them as root).
# Environment: SECONDS_PER_RUN (wrk -d, default 5), ROUNDS (each figure the
# median of this many interleaved rounds, default 3), CONNS (the loaded
# case's connections, default 50), SIZE (the file's bytes, default 1024).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
FAULTLINE=$BUILD/faultline
T=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-50}
SIZE=${SIZE:-1024}
NGINX=${FL_NGINX:-/usr/sbin/nginx}
WORK=$(mktemp -d /tmp/fl-bench-http.XXXXXX)
PIDS=""

cleanup() {
  touch "$WORK/stop"
  for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ -x "$FAULTLINE" ] || { echo "bench_http: $FAULTLINE missing: build first" >&2; exit 2; }
need=""
for tool in wrk haproxy "$NGINX" curl python3; do
  command -v "$tool" >/dev/null 2>&1 || need="$need $tool"
done
if [ -n "$need" ]; then
  echo "bench_http: missing$need; run: tools/deps.sh bench (as root) or apt-get install wrk haproxy nginx curl" >&2
  exit 2
fi

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
bg() { "$@" & PIDS="$PIDS $!"; LAST=$!; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# Waits until GET http://127.0.0.1:PORT/f answers 200 (up to 20 s); fails
# if it never does.
wait_http() {
  i=0
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/f" 2>/dev/null)" = 200 ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "bench_http: nothing answers on port $1" >&2; return 1; }
    sleep 0.1
  done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

CORES=$(nproc)
MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# (a) nginx serving one small file.
P_NG=$(port)
mkdir -p "$WORK/nginx/tmp" "$WORK/www"
head -c "$SIZE" /dev/zero | tr '\0' x >"$WORK/www/f"
# nginx's worker runs as nobody when started by root: it must read the file.
chmod 755 "$WORK" "$WORK/www"
chmod 644 "$WORK/www/f"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$P_NG;
    root $WORK/www;
  }
}
EOF
bg "$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e stderr -g 'daemon off;' \
  2>"$WORK/nginx.log"
PID_NG=$LAST
wait_http "$P_NG" || exit 1

# (b), (c) faultline proxies, each held open by `faultline run`.
flproxy() { # $1 = port, $2 = 1 for the HTTP rule
  FL_BENCH_LISTEN=127.0.0.1:$1 FL_BENCH_UPSTREAM=127.0.0.1:$P_NG FL_BENCH_RULE=$2 \
    FL_BENCH_STOP=$WORK/stop bg "$FAULTLINE" run "$ROOT/bench/http_proxy.lua" \
    --out "$WORK/run-$1" >"$WORK/run-$1.log" 2>&1
}
P_FL=$(port); flproxy "$P_FL" 0; PID_FL=$LAST
P_RU=$(port); flproxy "$P_RU" 1; PID_RU=$LAST

# (d) HAProxy in http mode, keep-alive on both sides.
P_HA=$(port)
cat >"$WORK/haproxy.cfg" <<EOF
global
  maxconn 4000
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend f
  bind 127.0.0.1:$P_HA
  default_backend b
backend b
  server s1 127.0.0.1:$P_NG
EOF
bg haproxy -f "$WORK/haproxy.cfg" -db; PID_HA=$LAST
for p in "$P_FL" "$P_HA"; do wait_http "$p" || exit 1; done
NAMES="direct faultline faultline_rule haproxy"
# A faultline without HTTP rules (before issue 18) cannot hold (c): measure
# the other three and say why.
if ! wait_http "$P_RU"; then
  echo "bench_http: (c) left out: the proxy with an HTTP rule did not start:" >&2
  grep -i "error" "$WORK/run-$P_RU.log" | head -3 >&2
  NAMES="direct faultline haproxy"
fi

echo "faultline HTTP benchmark: $CORES cores ($MODEL), wrk -t1 -d${T}s, a $SIZE-byte file from nginx, median of $ROUNDS interleaved rounds"

# wrk PORT CONNS -> "rps p50_ms p99_ms" (wrk --latency prints 50% ... 99%).
to_ms() { awk '{ v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
  if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.3f", v }'; }
load() {
  out=$(wrk -t1 -c"$2" -d"${T}s" --latency "http://127.0.0.1:$1/f" 2>&1)
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }' | to_ms)
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }' | to_ms)
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
  [ -n "$errs" ] && echo "  wrk on port $1: $errs" >&2
  echo "${rps:-0} ${p50:-0} ${p99:-0}"
}

for c in 1 "$CONNS"; do
  for n in $NAMES; do eval "A_$n=''; B_$n=''; C_$n=''"; done
  r=0
  while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    # Interleaved, so that a noisy moment hurts every path alike.
    for t in direct:$P_NG faultline:$P_FL faultline_rule:$P_RU haproxy:$P_HA; do
      n=${t%%:*}
      case " $NAMES " in *" $n "*) ;; *) continue ;; esac
      set -- $(load "${t##*:}" "$c")
      eval "A_$n=\"\$A_$n $1\"; B_$n=\"\$B_$n $2\"; C_$n=\"\$C_$n $3\""
    done
  done
  for n in $NAMES; do
    eval "R_${c}_$n=\"\$(median \$A_$n) \$(median \$B_$n) \$(median \$C_$n)\""
  done
done

# The runs end on their own once the stop file is there (and log the rule's
# counters); killed only if they have not after 10 s.
touch "$WORK/stop"
for pid in $PID_FL $PID_RU; do
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  stop "$pid"
done
COUNTERS=$(grep -h "rule never\|parsed" "$WORK/run-$P_RU.log" 2>/dev/null | sed 's/^.*s\] *//' | tr '\n' ';')
stop "$PID_HA"; stop "$PID_NG"

label() {
  case $1 in
  direct) echo "(a) direct to nginx" ;;
  faultline) echo "(b) faultline, no HTTP rule" ;;
  faultline_rule) echo "(c) faultline, 1 non-matching HTTP rule" ;;
  haproxy) echo "(d) HAProxy, mode http" ;;
  esac
}
echo
echo "### HTTP through the proxy ($(date -u '+%Y-%m-%d %H:%M UTC'), $CORES cores, load avg $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo
echo "\`bench/bench_http.sh\`: wrk -t1 -d${T}s --latency, GET of a $SIZE-byte file, median of $ROUNDS interleaved rounds."
echo
echo "| connections | path | requests/s | p50 ms | p99 ms | rps / (a) | rps / (d) | p99 / (d) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for c in 1 "$CONNS"; do
  eval "set -- \$R_${c}_direct"; D=$1
  eval "set -- \$R_${c}_haproxy"; H=$1; H99=$3
  for n in $NAMES; do
    eval "set -- \$R_${c}_$n"
    echo "| $c | $(label "$n") | $1 | $2 | $3 | $(ratio "$1" "$D") | $(ratio "$1" "$H") | $(ratio "$3" "$H99") |"
  done
done
for c in 1 "$CONNS"; do
  case " $NAMES " in *" faultline_rule "*) ;; *) break ;; esac
  eval "set -- \$R_${c}_faultline"; B=$1
  eval "set -- \$R_${c}_faultline_rule"; C=$1
  echo
  echo "$c connection(s): with the HTTP rule the proxy serves $(ratio "$C" "$B") times the requests/s it serves without ((c) / (b))."
done
[ -n "$COUNTERS" ] && { echo; echo "The rule's counters at the end (from the run's log): $COUNTERS"; }
exit 0
