#!/bin/sh
# Suite parallelism: 20 short scenarios (a one-node kvnode under a small
# workload each) run with --jobs 1 and --jobs 2; prints both times and the
# ratio. On 2 cores, --jobs 2 should take not much more than half.
set -eu
BUILD=${1:-build}
FAULTLINE=$BUILD/faultline
TMP=$(mktemp -d /tmp/fl-suite-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/suite"
for i in $(seq -w 1 20); do
  cat >"$TMP/suite/s$i.lua" <<LUA
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")
fl.scenario("short scenario $i", function()
  local c = kv.cluster{ nodes = 1 }
  c:start()
  local w = fl.workload{ clients = 2, rate = 100, duration = 1.5,
                         ops = kv.register_ops{ keys = 2, cluster = c } }
  w:wait()
  fl.check.linearizable{ model = "kv", history = w }
end)
LUA
done
t() { start=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; end=$(date +%s.%N); awk "BEGIN{print $end - $start}"; }
j1=$(t "$FAULTLINE" suite "$TMP/suite" --jobs 1 --out "$TMP/j1")
j2=$(t "$FAULTLINE" suite "$TMP/suite" --jobs 2 --out "$TMP/j2")
pass1=$(grep -l '"status": "pass"' "$TMP"/j1/*/report.json | wc -l)
pass2=$(grep -l '"status": "pass"' "$TMP"/j2/*/report.json | wc -l)
printf 'suite of 20 short scenarios (%s cores)\n' "$(nproc)"
printf '  --jobs 1: %6.2f s (%d passed)\n' "$j1" "$pass1"
printf '  --jobs 2: %6.2f s (%d passed)\n' "$j2" "$pass2"
printf '  ratio jobs2/jobs1: %.2f (ideal 0.50)\n' "$(awk "BEGIN{print $j2 / $j1}")"
