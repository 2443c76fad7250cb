#!/bin/sh
# HTTP fault rules on a proxy with real clients (scenarios/http-faults.lua
# drives helpers/http_client.py against helpers/http_upstream.py): keep-alive
# with faulted and clean requests on one connection, pipelining, a chunked
# upload, 100-continue, HTTP/1.0, HEAD, a 100 MB download under a response
# delay (sha256 intact, faultline's RSS flat), an Upgrade passed through,
# first = 3, percent = 20 over 500 requests, reset before vs after. Then the
# evidence in report.json and report.html, and bad rules (exit 2).
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || skip "python3 not installed"
command -v curl >/dev/null || skip "curl not installed"

expect_exit 0 "HTTP faults scenario" -- "$FAULTLINE" run "$SCEN/http-faults.lua" \
  --out "$TMP/run" --seed 7
grep -E '^(ok|FAIL|figure):' "$TMP/out" | sed 's/^/    /'
expect_grep "$TMP/out" "^figure: download 100 MB" "the 100 MB download ran"
expect_grep "$TMP/out" "faultline's memory stays flat" "memory flat during the download"

json=$TMP/run/report.json
if python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
faults = {f["attrs"].get("rule"): f for f in r["faults"] if f["kind"].startswith("http_")}
want = {"first3": ("http_reset", 5, 3), "pct": ("http_abort", 500, None),
        "rb": ("http_reset", 1, 1), "slow-big": ("http_delay", 1, 1),
        "tenant-b": ("http_delay", 0, 0)}
for name, (kind, matched, faulted) in want.items():
    f = faults[name]
    a = f["attrs"]
    assert f["kind"] == kind, (name, f["kind"])
    assert a["matched"] == matched, (name, a)
    assert faulted is None or a["faulted"] == faulted, (name, a)
    assert a["proxy"] == "api" and f["end_s"] is not None, (name, f)
assert 65 <= faults["pct"]["attrs"]["faulted"] <= 135
PY
then ok "report.json: each rule a fault with its counters"
else fail "report.json: rule faults or counters wrong"; fi
expect_grep "$TMP/run/report.html" "first3" "report.html names the rule"
expect_grep "$TMP/run/report.html" "rule first3: 3 of 5 matched request\(s\) faulted" "report.html shows the rule's counters in its fault entry"

for b in action two status option; do
  export BAD_RULE=$b
  expect_exit 2 "bad rule: $b" -- "$FAULTLINE" run "$SCEN/http-faults-bad.lua" --out "$TMP/bad-$b"
  expect_grep "$TMP/out" "http-faults-bad.lua:[0-9]+: " "bad rule ($b) names the file and line"
done
expect_grep "$TMP/out" "unknown option 'percentage'" "an unknown option is named"
# The same rules over `faultline proxy`'s API (faults/PROXY_API.md).
PIDS=""
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
UP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$FL_SRC/tests/integration/helpers/http_upstream.py" "$UP_PORT" &
PIDS="$PIDS $!"
"$FAULTLINE" proxy --api 127.0.0.1:0 >"$TMP/api.out" 2>"$TMP/api.err" &
PIDS="$PIDS $!"
API=""
i=0
while [ -z "$API" ] && [ $i -lt 100 ]; do
  API=$(sed -n 's|^faultline proxy: API on http://\([^ ]*\) .*|\1|p' "$TMP/api.out")
  sleep 0.05
  i=$((i + 1))
done
[ -n "$API" ] || fail "faultline proxy: the API did not start"
# call METHOD PATH [BODY]: the status in $CODE, the body in $TMP/body
call() {
  CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://$API$2")
}
call POST /proxies "{\"name\":\"shop\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$UP_PORT\"}"
[ "$CODE" = 201 ] && ok "API: proxy made" || fail "API: make proxy: $CODE $(cat "$TMP/body")"
LISTEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$TMP/body")
call POST /faultline/proxies/shop/http_faults \
  '{"name":"r503","match":{"method":"POST","path":"/reserve*"},"abort":{"status":503},"first":2}'
[ "$CODE" = 201 ] && ok "API: rule added (201)" || fail "API: add rule: $CODE $(cat "$TMP/body")"
call POST /faultline/proxies/shop/http_faults '{"name":"r503","reset":true}'
[ "$CODE" = 409 ] && ok "API: a duplicate name is 409" || fail "API: duplicate: $CODE"
call POST /faultline/proxies/shop/http_faults '{"abort":{"status":42}}'
[ "$CODE" = 400 ] && grep -q 'abort.status' "$TMP/body" && ok "API: a bad rule is 400 naming the field" \
  || fail "API: bad rule: $CODE $(cat "$TMP/body")"
codes=""
for i in 1 2 3; do
  codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "http://$LISTEN/reserve/$i")"
done
[ "$codes" = " 503 503 200" ] && ok "API: first=2 through the proxy:$codes" || fail "API: statuses:$codes"
call GET /faultline/proxies/shop/http_faults/r503
grep -q '"matched": *3' "$TMP/body" && grep -q '"faulted": *2' "$TMP/body" \
  && ok "API: counters matched 3, faulted 2" || fail "API: counters: $(cat "$TMP/body")"
call PATCH /faultline/proxies/shop/http_faults/r503 '{"first":null,"percent":100,"abort":{"status":418}}'
[ "$CODE" = 200 ] || fail "API: update: $CODE $(cat "$TMP/body")"
c=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "http://$LISTEN/reserve/4")
[ "$c" = 418 ] && ok "API: the updated rule answers 418" || fail "API: after update: $c"
call POST /reset
call GET /faultline/proxies/shop/http_faults
[ "$(cat "$TMP/body")" = "[]" ] && ok "API: /reset removes the rules" || fail "API: after reset: $(cat "$TMP/body")"
call DELETE /faultline/proxies/shop/http_faults/r503
[ "$CODE" = 404 ] && ok "API: removing an unknown rule is 404" || fail "API: delete: $CODE"
call GET /faultline/proxies/nope/http_faults
[ "$CODE" = 404 ] && ok "API: an unknown proxy is 404" || fail "API: unknown proxy: $CODE"
expect_no_leftovers "after the HTTP fault scenarios"
finish
