#!/bin/sh
# The namespace layer: two services in namespaces of their own talk (HTTP
# between namespaces and from the host), cannot after a partition (both
# directions, one way, and the host's path when asked), and can again after
# each heal; the report shows the partition and the isolation probes.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the namespace layer needs root"
for t in ip nft python3 curl; do
  command -v $t >/dev/null || skip "$t not installed"
done
err=$(ip netns add "flskip$$" 2>&1) || skip_kernel "network namespaces" "ip netns add: $err"
ip netns del "flskip$$"

cat >"$TMP/partition.lua" <<'EOF'
local fl = require("faultline")
local n = 0
-- The HTTP status `from` gets from `to`'s web server, asked by curl inside
-- from's namespace ("000": nothing came back within a second).
local function curl(from, to)
  n = n + 1
  local p = fl.service{ name = "curl" .. n, netns = from.netns, network = false,
    cmd = { "sh", "-c", "curl -s -m 1 -o /dev/null -w 'code=%{http_code}\\n' http://"
      .. to.addr .. ":8000/; exec sleep 30" },
    ready = fl.probe.log("code=", { timeout = 10 }) }
  p:start()
  fl.sleep(0.1)
  local f = io.open(p.log)
  local text = f:read("a")
  f:close()
  p:stop()
  return text:match("code=(%d+)")
end

fl.scenario("netns partition", function()
  local net = fl.network{ mode = "netns" }
  fl.log("run id %s subnet %s", net.run_id, net.subnet)
  local function web(name)
    return fl.service{ name = name,
      cmd = { "python3", "-m", "http.server", "8000", "--bind", net:addr(name) },
      ready = fl.probe.http("http://" .. net:addr(name) .. ":8000/") }
  end
  local a, b = web("a"), web("b")
  fl.expect.that(a.addr ~= b.addr and a.addr:match("^10%.77%.") ~= nil, "own addresses")
  a:start()
  b:start()
  fl.expect.that(curl(a, b) == "200", "a reaches b")
  fl.expect.that(curl(b, a) == "200", "b reaches a")
  local r = fl.http.get("http://" .. b.addr .. ":8000/")
  fl.expect.that(r and r.status == 200, "the host reaches b")

  fl.partition{ { a }, { b } }
  fl.expect.isolated("a", "b")
  fl.expect.isolated("b", "a")
  fl.expect.that(curl(a, b) == "000", "cut: a cannot reach b")
  fl.expect.that(curl(b, a) == "000", "cut: b cannot reach a")
  r = fl.http.get("http://" .. b.addr .. ":8000/")
  fl.expect.that(r and r.status == 200, "cut: the host still reaches b")
  fl.heal()
  fl.expect.that(curl(a, b) == "200", "healed: a reaches b")

  fl.partition{ from = { "a" }, to = { "b" } }
  fl.expect.isolated("a", "b")
  fl.expect.that(not net:reaches("a", "b"), "one way: a's datagrams do not reach b")
  fl.expect.that(net:reaches("b", "a"), "one way: b's datagrams reach a")
  fl.heal()
  fl.expect.that(net:reaches("a", "b"), "healed: a's datagrams reach b")

  fl.partition{ { "a", "host" }, { "b" } }
  local _, err = fl.http.get("http://" .. b.addr .. ":8000/", { timeout = 1 })
  fl.expect.that(err ~= nil, "the host is cut from b when asked")
  fl.expect.that(curl(a, b) == "000", "and so is a")
  fl.heal()
  r = fl.http.get("http://" .. b.addr .. ":8000/")
  fl.expect.that(r and r.status == 200, "healed: the host reaches b")
end)

fl.scenario("netns isolation fails when nothing is cut", function()
  local net = fl.network{ mode = "netns" }
  fl.log("run id %s", net.run_id)
  fl.service{ name = "a", cmd = { "sleep", "60" } }:start()
  fl.service{ name = "b", cmd = { "sleep", "60" } }:start()
  fl.expect.isolated("a", "b")
end)
EOF

expect_exit 1 "partition scenario (the second one must fail)" -- "$FAULTLINE" run "$TMP/partition.lua" --out "$TMP/p"
out="$TMP/out"
for c in "own addresses" "a reaches b" "b reaches a" "the host reaches b" \
  "a isolated from b" "b isolated from a" "cut: a cannot reach b" "cut: b cannot reach a" \
  "cut: the host still reaches b" "healed: a reaches b" "one way: a's datagrams do not reach b" \
  "one way: b's datagrams reach a" "healed: a's datagrams reach b" \
  "the host is cut from b when asked" "and so is a" "healed: the host reaches b"; do
  expect_grep "$out" "check $c.*: passed" "$c"
done
expect_grep "$out" "check a isolated from b: fail: .*datagram\(s\) got through" \
  "isolation is not reported where nothing was cut"
rep="$TMP/p/netns-partition/report.json"
expect_grep "$rep" '"layer": "netns"' "the report's faults say the layer"
expect_grep "$rep" '"kind": "partition"' "the report shows the partition"
expect_grep "$rep" '"kind": "isolated"' "and the isolation probes"
if command -v jq >/dev/null; then
  n=$(jq '[.faults[] | select(.kind == "partition" and .attrs.layer == "netns" and .end_s != null)] | length' "$rep")
  [ "$n" = 3 ] && ok "three netns partitions, each ended" || fail "netns partitions in report: $n"
else skip_part "jq not installed: the ended partitions in report.json not counted"
fi

# Nothing of either run is left.
for id in $(sed -n 's/.*run id \([0-9a-f]\{8\}\).*/\1/p' "$out"); do
  left=$( { ip netns list; ip -o link show; nft list tables; ls /run/faultline; } 2>/dev/null | grep "$id")
  [ -z "$left" ] && ok "run $id left nothing" || fail "run $id left: $left"
done
expect_no_leftovers "after the netns runs"
finish
