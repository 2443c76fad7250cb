#!/bin/sh
# The namespace layer's bandwidth limit (tbf on the service's link): iperf3
# between two namespaces measures the asked rate within 20%, in both units
# and one direction, and full speed again once removed. Latency needs netem:
# where the kernel lacks it, asking for it is one clear error (exit 2).
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the namespace layer needs root"
for t in ip nft tc iperf3; do
  command -v $t >/dev/null || skip "$t not installed"
done
err=$(ip netns add "flskip$$" 2>&1) || skip_kernel "network namespaces" "ip netns add: $err"
ip netns del "flskip$$"

cat >"$TMP/bw.lua" <<'EOF'
local fl = require("faultline")
fl.scenario("netns bandwidth", function()
  local net = fl.network{ mode = "netns" }
  fl.log("run id %s", net.run_id)
  local srv = fl.service{ name = "srv",
    cmd = { "iperf3", "-s", "-B", net:addr("srv"), "-p", "5201" },
    ready = fl.probe.tcp(net:addr("srv") .. ":5201") }
  net:addr("cli")
  srv:start()
  local n = 0
  -- iperf3 from the client's namespace to srv for 3 s: bytes/s received.
  local function measure()
    -- iperf3's server answers "busy" while it still winds down the last
    -- test (slow under sanitizers): try again rather than fail.
    for attempt = 1, 3 do
      n = n + 1
      local out = fl.info().dir .. "/iperf" .. n .. ".json"
      local c = fl.service{ name = "cli" .. n, cmd = { "sh", "-c", "iperf3 -c " .. srv.addr
        .. " -p 5201 -t 3 -J --logfile " .. out .. "; echo done; exec sleep 30" },
        ready = fl.probe.log("^done$", { timeout = 30 }) }
      c:start()
      c:stop()
      local f = io.open(out)
      local j = fl.json.decode(f:read("a"))
      f:close()
      local got = j and j["end"] and j["end"].sum_received
      if got then return got.bits_per_second / 8 end
      fl.log("iperf3 attempt %d: %s", attempt, tostring(j and j.error))
      fl.sleep(1)
    end
    error("iperf3 gave no result three times")
  end
  local function within(got, want, what)
    fl.log("%s: %.0f KB/s (want %.0f)", what, got / 1000, want / 1000)
    fl.expect.that(math.abs(got - want) / want < 0.2,
      string.format("%s within 20%% (%.0f KB/s)", what, got / 1000))
  end
  local free = measure()
  fl.expect.that(free > 5e6, string.format("unlimited: %.0f KB/s", free / 1000))
  srv:limit{ rate = 1000 } -- KB/s
  within(measure(), 1e6, "1000 KB/s")
  srv:limit{ rate = "4mbit", direction = "in" }
  within(measure(), 5e5, "4mbit into srv")
  srv:limit()
  local again = measure()
  fl.expect.that(again > 5e6, string.format("unlimited again: %.0f KB/s", again / 1000))
  if not net.features.netem then
    srv:netem{ delay = 100 } -- one clear error, exit 2
  end
end)
EOF

"$FAULTLINE" run "$TMP/bw.lua" --out "$TMP/b" >"$TMP/out" 2>&1
code=$?
cat "$TMP/out"
expect_grep "$TMP/out" "check 1000 KB/s within 20%.*: passed" "a 1000 KB/s limit measured within 20%"
expect_grep "$TMP/out" "check 4mbit into srv within 20%.*: passed" "a 4mbit limit (one way) measured within 20%"
expect_grep "$TMP/out" "check unlimited again.*: passed" "full speed after the limit is removed"
expect_grep "$TMP/b/report.json" '"kind": "bandwidth"' "the limit is a fault in the report"
if grep -q "no netem" "$TMP/out"; then
  [ "$code" = 2 ] && ok "no netem: exit 2" || fail "no netem: exit $code, want 2"
  expect_grep "$TMP/out" "error: .*bw.lua:[0-9]+: svc:netem: this kernel has no netem qdisc" \
    "no netem: one clear line naming the scenario's line"
else
  [ "$code" = 0 ] && ok "exit 0" || fail "exit $code"
fi
for id in $(sed -n 's/.*run id \([0-9a-f]\{8\}\).*/\1/p' "$TMP/out"); do
  left=$( { ip netns list; ip -o link show; nft list tables; ls /run/faultline; } 2>/dev/null | grep "$id")
  [ -z "$left" ] && ok "run $id left nothing" || fail "run $id left: $left"
done
expect_no_leftovers "after the bandwidth run"
finish
