#!/bin/sh
# `faultline proxy` driven the way a Toxiproxy user drives toxiproxy-server:
# with curl and the calls Toxiproxy's README documents (create a proxy, add
# a latency toxic, take it down, reset), then the config file, the
# toxiproxy-server flags, and the exits (SIGTERM and SIGINT exit 0; a port
# in use or a bad config exit 2). The upstream behind the proxy is the API
# itself, so a request through the proxy is an HTTP round trip we can time.
. "$(dirname "$0")/lib/common.sh"

command -v curl >/dev/null 2>&1 || skip "curl not found"
[ -x "$FAULTLINE" ] || skip "$FAULTLINE not built"

PIDS=""
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# start NAME ARGS...: runs faultline proxy in the background; sets API to
# its address once it printed it.
start() {
  name=$1
  shift
  "$FAULTLINE" proxy "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS="$PIDS $PID"
  i=0
  while [ $i -lt 100 ]; do
    API=$(sed -n 's|^faultline proxy: API on http://\([^ ]*\) .*|\1|p' "$TMP/$name.out")
    [ -n "$API" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
    i=$((i + 1))
  done
  fail "$name: the API did not start"
  sed 's/^/    | /' "$TMP/$name.err" >&2
  return 1
}

# call METHOD PATH [BODY]: the answer's status in $CODE, its body in $TMP/body
call() {
  if [ $# -ge 3 ]; then
    CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
      -d "$3" "http://$API$2")
  else
    CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" "http://$API$2")
  fi
}

# expect_call WHAT STATUS METHOD PATH [BODY]
expect_call() {
  what=$1
  want=$2
  shift 2
  call "$@"
  if [ "$CODE" = "$want" ]; then
    ok "$what ($CODE)"
  else
    fail "$what: $CODE, want $want"
    sed 's/^/    | /' "$TMP/body" >&2
  fi
}

body_has() {
  if grep -qF -- "$1" "$TMP/body"; then ok "$2"; else
    fail "$2: no $1 in"
    sed 's/^/    | /' "$TMP/body" >&2
  fi
}

# through LISTEN: GET /version through the proxy; prints seconds, or
# "fail" and curl's exit code.
through() {
  t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 "http://$1/version") || {
    echo "fail $?"
    return
  }
  echo "$t"
}

# at_least SECONDS VALUE / below SECONDS VALUE (decimals)
at_least() { awk -v a="$2" -v b="$1" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
below() { awk -v a="$2" -v b="$1" 'BEGIN { exit !(a + 0 < b + 0) }'; }

start main --api 127.0.0.1:0 --seed 7 || finish

# ---- Toxiproxy's README, step by step ----
expect_call "GET /version" 200 GET /version
if [ "$(cat "$TMP/body")" = '{"version": "2.12.0"}' ]; then ok "version body"; else
  fail "version body: $(cat "$TMP/body")"
fi
expect_call "create a proxy" 201 POST /proxies \
  "{\"name\": \"shopify_test_redis_master\", \"listen\": \"127.0.0.1:0\", \"upstream\": \"$API\"}"
body_has '"enabled":true' "created enabled"
LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$TMP/body")
t=$(through "$LISTEN")
if below 0.5 "$t"; then ok "through the proxy in ${t}s"; else fail "through the proxy: $t"; fi

# What toxiproxy-cli sends for `toxic add -t latency -a latency=1000`.
expect_call "add a latency toxic" 200 POST /proxies/shopify_test_redis_master/toxics \
  '{"name":"","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":1000}}'
body_has '"name":"latency_downstream"' "default toxic name"
t=$(through "$LISTEN")
if at_least 0.95 "$t" && below 5 "$t"; then ok "1000 ms latency: ${t}s"; else
  fail "1000 ms latency: $t"
fi

expect_call "take it down" 200 POST /proxies/shopify_test_redis_master '{"enabled": false}'
body_has '"enabled":false' "down"
t=$(through "$LISTEN")
case "$t" in "fail 7") ok "down refuses connections" ;; *) fail "down: $t" ;; esac

expect_call "reset" 204 POST /reset
t=$(through "$LISTEN")
if below 0.5 "$t"; then ok "after reset: ${t}s"; else fail "after reset: $t"; fi
expect_call "toxics after reset" 200 GET /proxies/shopify_test_redis_master/toxics
[ "$(cat "$TMP/body")" = "[]" ] && ok "no toxics after reset" || fail "toxics: $(cat "$TMP/body")"

expect_call "list proxies" 200 GET /proxies
body_has '{"shopify_test_redis_master":{"name":"shopify_test_redis_master"' "keyed by name"
expect_call "unknown proxy" 404 GET /proxies/nope
[ "$(cat "$TMP/body")" = '{"error":"proxy not found","status":404}' ] && ok "404 body" ||
  fail "404 body: $(cat "$TMP/body")"
expect_call "populate" 201 POST /populate \
  "[{\"name\":\"web\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"$API\"}]"
body_has '"proxies":[{"name":"web"' "populate answers the proxies"
expect_call "delete" 204 DELETE /proxies/web
expect_call "metrics" 200 GET /metrics
body_has 'toxiproxy_proxy_sent_bytes_total{direction="downstream"' "metrics has bytes"

# ---- --config, with toxics (Toxiproxy ignores them; we apply them) ----
cat >"$TMP/config.json" <<EOF
[
  {"name": "cfg", "listen": "127.0.0.1:0", "upstream": "$API", "enabled": true,
   "toxics": [{"type": "latency", "attributes": {"latency": 300}}]},
  {"name": "cfg_off", "listen": "127.0.0.1:0", "upstream": "$API", "enabled": false}
]
EOF
MAIN_API=$API
start cfg --api 127.0.0.1:0 --config "$TMP/config.json" || finish
expect_call "config proxy" 200 GET /proxies/cfg
body_has '"name":"latency_downstream"' "config toxics applied"
CFG_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$TMP/body")
t=$(through "$CFG_LISTEN")
if at_least 0.28 "$t"; then ok "config latency: ${t}s"; else fail "config latency: $t"; fi
expect_call "config disabled proxy" 200 GET /proxies/cfg_off
body_has '"enabled":false' "config enabled:false"

# ---- exits ----
CFG_PID=$PID
kill -TERM "$CFG_PID"
wait "$CFG_PID"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM exits 0" || fail "SIGTERM: exit $rc"
curl -s -o /dev/null --max-time 2 "http://$CFG_LISTEN/" && fail "a proxy outlived SIGTERM" ||
  ok "proxies closed with it"

API=$MAIN_API
PORT=${API##*:}
expect_exit 2 "API port in use" -- "$FAULTLINE" proxy --api "$API"
expect_grep "$TMP/err" "cannot listen on $API" "names the address"
printf '[{"name": "x"' >"$TMP/bad.json"
expect_exit 2 "bad config" -- "$FAULTLINE" proxy --api 127.0.0.1:0 --config "$TMP/bad.json"
expect_grep "$TMP/err" "bad.json" "names the file"
printf '[{"name": "x", "upstream": "127.0.0.1:9", "toxics": [{"type": "nope"}]}]' >"$TMP/bad2.json"
expect_exit 2 "config with an unknown toxic" -- "$FAULTLINE" proxy --api 127.0.0.1:0 \
  --config "$TMP/bad2.json"
expect_grep "$TMP/err" "invalid toxic type at proxy 1" "says which entry"
expect_exit 2 "unknown option" -- "$FAULTLINE" proxy --frobnicate
expect_exit 2 "bad seed" -- "$FAULTLINE" proxy --seed x

# toxiproxy-server's flags
start flags -host 127.0.0.1 -port 0 -proxy-metrics || finish
expect_call "started with -host/-port" 200 GET /version
kill -INT "$PID"
wait "$PID"
rc=$?
[ "$rc" = 0 ] && ok "SIGINT exits 0" || fail "SIGINT: exit $rc"

API=$MAIN_API
kill -TERM "$(echo $PIDS | cut -d' ' -f1)"
wait
finish
