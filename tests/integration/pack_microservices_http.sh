#!/bin/sh
# The microservices pack's scenarios with HTTP rules on the proxies
# (scenarios/microservices/*.lua that call add_http_fault): inventory's 503s
# with and without orders' retries, a reset after forwarding (duplicate
# reservations: an expected finding; none with an idempotency key), a slow
# route on one catalog instance. Every scenario passes, every rule fired
# (report.json: each HTTP fault faulted at least one request; the scenarios'
# own fl.expect.http_fired checks passed), the duplicates are counted, and
# nothing is left running or written outside the run directories.
. "$(dirname "$0")/lib/common.sh"
NGINX=${FL_NGINX:-/usr/sbin/nginx}
PY=${FL_PYTHON:-/usr/bin/python3}
[ -x "$NGINX" ] || command -v "$NGINX" >/dev/null ||
  skip "nginx not installed (apt-get install nginx, or tools/deps.sh test as root)"
"$PY" -c 'import flask' 2>/dev/null ||
  skip "$PY cannot import flask (apt-get install python3-flask, or tools/deps.sh test as root)"
PACK=$FL_SRC/scenarios/microservices
FILES=$(grep -l add_http_fault "$PACK"/*.lua)
n_files=$(echo "$FILES" | grep -c .)
[ "$n_files" -ge 3 ] && ok "$n_files scenario files with HTTP rules" ||
  fail "expected at least 3 scenario files with HTTP rules in $PACK, found $n_files"
# shellcheck disable=SC2086
n_scen=$(grep -h -c '^fl.scenario(' $FILES | awk '{ s += $1 } END { print s }')
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

# shellcheck disable=SC2086
expect_exit 0 "the HTTP-rule scenarios pass" -- "$FAULTLINE" suite $FILES --jobs 1 --out "$TMP/runs"
expect_grep "$TMP/out" "$n_scen passed, 0 failed, 0 errors" "all $n_scen scenarios passed"

# Every HTTP rule a scenario added fired: its fault entries in report.json
# (kind http_*, attrs.proxy, attrs.rule, attrs.faulted) count the requests
# it acted on, and every fl.expect.http_fired check passed. A rule that never
# fired fails here even if a scenario forgot to check it.
cat >"$TMP/rules.py" <<'PY'
import glob, json, os, sys
bad, seen = [], 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "report.json"))):
    rep = json.load(open(path))
    run = os.path.basename(os.path.dirname(path))
    rules = {}
    for f in rep.get("faults", []):
        if not str(f.get("kind", "")).startswith("http_"):
            continue
        a = f.get("attrs") or {}
        key = (str(a.get("proxy")), str(a.get("rule")))
        rules[key] = max(rules.get(key, 0), int(a.get("faulted") or 0))
    fired = [c for c in rep.get("checks", []) if c.get("kind") == "http_fired"]
    if not rules:
        bad.append("%s: no HTTP fault in report.json" % run)
    for key, n in sorted(rules.items()):
        seen += 1
        if "None" in key:
            bad.append("%s: an HTTP fault without its proxy or rule: %s" % (run, key))
        elif n < 1:
            bad.append("%s: rule %s on %s never fired" % (run, key[1], key[0]))
    if not fired:
        bad.append("%s: no http_fired check" % run)
    for c in fired:
        if c.get("status") != "pass":
            bad.append("%s: %s: %s" % (run, c.get("name"), c.get("message")))
    print("%s: faulted per rule: %s; %d http_fired check(s)" % (run, ", ".join(
        "%s@%s %d" % (k[1], k[0], n) for k, n in sorted(rules.items())), len(fired)))
for b in bad:
    print("BAD: " + b)
sys.exit(1 if bad or seen == 0 else 0)
PY
if python3 "$TMP/rules.py" "$TMP/runs" >"$TMP/rules" 2>&1; then
  ok "every HTTP rule fired"
  sed 's/^/    /' "$TMP/rules"
else
  fail "an HTTP rule never fired, or report.json does not show it:"
  sed 's/^/    /' "$TMP/rules" >&2
fi
# The same check on a copy of one run in which no rule faulted must fail.
one=$(ls -d "$TMP"/runs/*/ | head -1)
mkdir -p "$TMP/doctored/run"
python3 -c '
import json, sys
rep = json.load(open(sys.argv[1]))
for f in rep.get("faults", []):
    if str(f.get("kind", "")).startswith("http_"):
        f["attrs"]["faulted"] = 0
json.dump(rep, open(sys.argv[2], "w"))
' "${one}report.json" "$TMP/doctored/run/report.json"
if python3 "$TMP/rules.py" "$TMP/doctored" >"$TMP/rules-doctored" 2>&1; then
  fail "the rule check passes a report whose rules never fired"
elif grep -q "never fired" "$TMP/rules-doctored"; then
  ok "the rule check fails a rule that never fired"
else
  fail "the rule check failed without naming the rule: $(cat "$TMP/rules-doctored")"
fi

dup=$(ls -d "$TMP"/runs/*no-idempotency-key*/ 2>/dev/null | head -1)
if [ -n "$dup" ] && [ -f "$dup/report.json" ]; then
  expect_grep "$dup/report.json" '"duplicates_count": *[1-9][0-9]*' \
    "report.json counts the reservations the retry made twice"
  expect_grep "$dup/summary.md" "[Ff]inding" "summary.md says it is a finding"
  grep -o '"duplicates_count": *[0-9]*' "$dup/report.json" | head -1 | sed 's/^/    /'
else
  fail "no run directory for the reset scenario without an idempotency key under $TMP/runs"
fi
idem=$(ls -d "$TMP"/runs/*idempotency-key-one*/ 2>/dev/null | head -1)
if [ -n "$idem" ]; then
  expect_grep "$idem/report.json" 'none twice' "with an idempotency key no reservation is made twice"
else
  fail "no run directory for the idempotency-key scenario"
fi
expect_pack_clean "after the HTTP-rule scenarios"
finish
