#!/bin/sh
# Partitions between remote hosts (issue 16): fl.partition on services on
# hosts installs nftables drop rules on the hosts themselves (the run's
# table inet flr<run id>), pairwise and one-way as locally; fl.expect.isolated
# asks the agent of one host to open a TCP connection to the other (its
# sshd's port): no answer = isolated; fl.heal removes the rules; the table
# is gone from every host after the run. svc:limit puts tbf on the host's
# interface, svc:netem netem where the host's kernel has it (said clearly
# where not); both are gone after the run.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

hosts_up 3
command -v nft >/dev/null 2>&1 || skip "nft not installed (tools/deps.sh)"
cat >"$TMP/hosts.lua" <<LUA
local kh = "$HOSTS_KNOWN"
local h = {}
for i, a in ipairs({ "$HOSTS_ADDR_1", "$HOSTS_ADDR_2", "$HOSTS_ADDR_3" }) do
  h[i] = { name = "n" .. i, address = a, user = "root", identity = "$HOSTS_KEY", known_hosts = kh }
end
return h
LUA
cat >"$TMP/scen.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("host partitions", { timeout = 50 }, function()
  local s = {}
  for i = 1, 3 do
    s[i] = fl.service{ host = "n" .. i, name = "s" .. i, cmd = { "sleep", "100" } }
    s[i]:start()
  end
  -- s1 alone against s2 and s3
  fl.partition{ { s[1] }, { s[2], s[3] } }
  fl.expect.isolated(s[1], s[2])
  fl.expect.isolated(s[2], s[1])
  fl.expect.isolated(s[3], s[1])
  local reach = fl.expect.isolated
  local ok = pcall(reach, s[2], s[3], { name = "s2 reaches s3 (must fail)" })
  fl.expect.that(not ok, "s2 and s3 are still connected")
  fl.heal()
  -- one way: s2 -> s3 dropped at s3; s3's SYN to s2 goes through, but s2's
  -- answer is dropped: both directions fail at TCP, s1 is untouched.
  fl.partition{ from = { s[2] }, to = { s[3] } }
  fl.expect.isolated(s[2], s[3])
  local ok2 = pcall(reach, s[1], s[3], { name = "s1 reaches s3 (must fail)" })
  fl.expect.that(not ok2, "s1 still reaches s3 during a one-way cut from s2")
  fl.heal()
  local ok3 = pcall(reach, s[2], s[3], { name = "healed (must fail)" })
  fl.expect.that(not ok3, "healed: s2 reaches s3 again")
  -- Bandwidth: tbf on n1's interface; netem: there, or said clearly.
  local function qdisc()
    return fl.exec{ "ip", "netns", "exec", os.getenv("NS1"), "tc", "qdisc", "show", "dev", "eth0" }.stdout
  end
  s[1]:limit{ rate = 100 }
  fl.expect.that(qdisc():find("tbf") ~= nil, "svc:limit puts tbf on the host's interface")
  local okn, errn = pcall(s[1].netem, s[1], { delay = 20 })
  fl.log("NETEM %s %s", tostring(okn), tostring(errn))
  if okn then
    fl.expect.that(qdisc():find("netem") ~= nil, "svc:netem puts netem on the host's interface")
  else
    fl.expect.that(tostring(errn):find("host n1's kernel has no netem qdisc") ~= nil,
      "no netem on this kernel: said clearly")
  end
end)
LUA
# The scenario records the failing isolated checks it expects (pcall): the
# run's status is fail, so look at the checks themselves.
NS1=$HOSTS_NS_1 "$FAULTLINE" run "$TMP/scen.lua" --hosts "$TMP/hosts.lua" --out "$TMP/r" -q >"$TMP/out" 2>"$TMP/err"
python3 - "$TMP/r/report.json" <<'PY' && ok "partition, one-way cut and heal, verified from the hosts' side" || { fail "the checks"; cat "$TMP/out" "$TMP/err" >&2; }
import json, sys
r = json.load(open(sys.argv[1]))
checks = {c["name"]: c["status"] for c in r["checks"]}
print(json.dumps(checks, indent=1), file=sys.stderr)
want_pass = ["s1 isolated from s2", "s2 isolated from s1", "s3 isolated from s1",
             "s2 and s3 are still connected", "s2 isolated from s3",
             "s1 still reaches s3 during a one-way cut from s2", "healed: s2 reaches s3 again",
             "svc:limit puts tbf on the host's interface"]
want_fail = ["s2 reaches s3 (must fail)", "s1 reaches s3 (must fail)", "healed (must fail)"]
for n in want_pass: assert checks.get(n) == "pass", n
for n in want_fail: assert checks.get(n) == "fail", n
assert checks.get("svc:netem puts netem on the host's interface") == "pass" or \
    checks.get("no netem on this kernel: said clearly") == "pass", checks
parts = [f for f in r["faults"] if f["kind"] == "partition"]
assert len(parts) == 2 and all(f["attrs"]["layer"] == "hosts" for f in parts), parts
assert parts[1]["attrs"]["direction"] == "one-way" and parts[1]["attrs"]["rules"] == 1, parts
PY
left=""
for i in 1 2 3; do
  ip netns exec "$(eval echo "\$HOSTS_NS_$i")" nft list tables 2>/dev/null | grep -q "inet flr" &&
    left="$left n$i"
done
[ -z "$left" ] && ok "no nftables table left on any host" || fail "tables left on$left"
ip netns exec "$HOSTS_NS_1" tc qdisc show dev eth0 | grep -qE "tbf|netem" &&
  fail "a qdisc is left on n1: $(ip netns exec "$HOSTS_NS_1" tc qdisc show dev eth0)" ||
  ok "no qdisc left on n1's interface"
grep -h NETEM "$TMP/r/timeline.jsonl" | head -1 >&2
finish
