#!/bin/sh
# Nothing of the namespace layer outlives a run: namespaces, links, the
# nftables table, state files and libfaketime's shared memory are gone after
# a passing run, a failing one, a kill -9 of faultline (its reaper), a kill -9
# of faultline and its reaper followed by `faultline cleanup` (or by the next
# run). Without CAP_NET_ADMIN/CAP_SYS_ADMIN the layer is refused with one
# clear line (exit 2) and the proxy layer still works.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the namespace layer needs root"
for t in ip nft; do
  command -v $t >/dev/null || skip "$t not installed"
done
err=$(ip netns add "flskip$$" 2>&1) || skip_kernel "network namespaces" "ip netns add: $err"
ip netns del "flskip$$"

# What the layer could leave, as lines; runs alive now (other tests running
# beside this one) are left out, so only what this test's runs left shows.
snapshot() {
  {
    ip netns list | awk '{print "netns " $1}'
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
    nft list tables | sed 's/^/nft /'
    for f in /run/faultline/*; do [ -e "$f" ] && echo "state ${f##*/} $(head -c 8 "$f")"; done
    for f in /dev/shm/faketime_shm_*; do
      [ -e "$f" ] || continue
      p=${f##*_}
      # A zombie is gone too: its parent (faultline) was killed.
      if [ ! -d "/proc/$p" ] || grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
        echo "shm $f"
      fi
    done
  } >"$1"
  for f in /run/faultline/run-*; do
    [ -e "$f" ] || continue
    read -r pid _ <"$f"
    [ -d "/proc/$pid" ] || continue
    id=${f##*/run-}
    grep -v "$id" "$1" >"$1.t"
    mv "$1.t" "$1"
  done
}

same_as_before() {
  snapshot "$TMP/after"
  if diff "$TMP/before" "$TMP/after" >"$TMP/diff"; then
    ok "$1: nothing left"
  else
    fail "$1: left behind:"
    sed 's/^/    /' "$TMP/diff" >&2
  fi
}

cat >"$TMP/runs.lua" <<'EOF'
local fl = require("faultline")
local function setup()
  local net = fl.network{ mode = "netns" }
  local a = fl.service{ name = "a", cmd = { "sleep", "300" }, clock = true }
  local b = fl.service{ name = "b", cmd = { "sleep", "300" } }
  a:start()
  b:start()
  a:clock{ offset = 60 }
  fl.partition{ { a }, { b } }
  return net
end
fl.scenario("passes", function()
  setup()
  fl.heal()
end)
fl.scenario("fails", function()
  setup()
  fl.expect.that(false, "this check fails on purpose")
end)
fl.scenario("lua error", function()
  setup()
  local x = nil
  return x.field
end)
fl.scenario("long", function()
  setup()
  fl.log("services up")
  fl.sleep(300)
end)
EOF

snapshot "$TMP/before"
expect_exit 0 "a passing netns run" -- "$FAULTLINE" run "$TMP/runs.lua" --only passes --out "$TMP/pass"
same_as_before "after a passing run"
expect_exit 1 "a failing netns run" -- "$FAULTLINE" run "$TMP/runs.lua" --only fails --out "$TMP/fail"
same_as_before "after a failed check"
expect_exit 2 "a netns run with a Lua error" -- "$FAULTLINE" run "$TMP/runs.lua" --only "lua error" --out "$TMP/err"
same_as_before "after a Lua error"

# start_long DIR: runs the long scenario in the background until its
# services are up; its pid in $pid.
start_long() {
  "$FAULTLINE" run "$TMP/runs.lua" --only long --out "$1" >"$1.out" 2>&1 &
  pid=$!
  i=0
  until grep -q "services up" "$1.out" 2>/dev/null || [ $i -gt 150 ]; do sleep 0.1; i=$((i + 1)); done
  grep -q "services up" "$1.out" || { fail "the long run did not start"; cat "$1.out" >&2; }
}

# kill -9 of faultline: the reaper removes it all.
start_long "$TMP/k1"
kill -9 $pid
wait $pid 2>/dev/null
sleep 2.5
same_as_before "2.5 s after kill -9 of faultline (the reaper)"

# kill -9 of faultline and its reaper: left behind, until `faultline cleanup`.
kill_both() {
  me=$(tr '\0' ' ' </proc/$pid/cmdline)
  for c in $(cat /proc/$pid/task/*/children); do
    [ "$(tr '\0' ' ' </proc/$c/cmdline 2>/dev/null)" = "$me" ] && kill -9 "$c"
  done
  kill -9 $pid
  wait $pid 2>/dev/null
  sleep 0.5
}
start_long "$TMP/k2"
kill_both
snapshot "$TMP/mid"
if grep -q "^netns fl" "$TMP/mid" && grep -q "^nft table bridge fl" "$TMP/mid"; then
  ok "with the reaper killed too, namespaces and the table are left"
else
  fail "nothing was left to clean up (the test proves nothing)"
fi
expect_exit 0 "faultline cleanup --dry-run" -- "$FAULTLINE" cleanup --dry-run
expect_grep "$TMP/out" "would remove" "dry run lists what it would remove"
snapshot "$TMP/mid2"
diff -q "$TMP/mid" "$TMP/mid2" >/dev/null && ok "dry run removes nothing" || fail "dry run removed something"
expect_exit 0 "faultline cleanup" -- "$FAULTLINE" cleanup
expect_grep "$TMP/out" "ip netns del fl[0-9a-f]{8}-1" "cleanup names what it removes"
same_as_before "after kill -9 of faultline and its reaper, then faultline cleanup"
expect_exit 0 "faultline cleanup again" -- "$FAULTLINE" cleanup
expect_grep "$TMP/out" "nothing left behind" "a second cleanup finds nothing"

# The same, cleaned up by the next run at its start.
start_long "$TMP/k3"
kill_both
expect_exit 0 "the next netns run" -- "$FAULTLINE" run "$TMP/runs.lua" --only passes --out "$TMP/next"
same_as_before "after kill -9 of both, then the next run"

# Without the capabilities: refused with one clear line; the proxy layer works.
if command -v capsh >/dev/null; then
  cat >"$TMP/proxy.lua" <<'EOF'
local fl = require("faultline")
fl.scenario("proxy without privileges", function()
  local p = fl.proxy{ upstream = "127.0.0.1:9" }
  fl.expect.that(p.listen ~= nil, "a proxy listens")
end)
EOF
  expect_exit 2 "netns without CAP_NET_ADMIN" -- capsh --drop=cap_net_admin,cap_sys_admin -- -c \
    "exec '$FAULTLINE' run '$TMP/runs.lua' --only passes --out '$TMP/nocap'"
  expect_grep "$TMP/out" "runs.lua:[0-9]+: fl.network\{mode = \"netns\"\} needs root \(CAP_NET_ADMIN and CAP_SYS_ADMIN\)" \
    "the refusal names what is needed and where"
  expect_exit 2 "cleanup without CAP_NET_ADMIN" -- capsh --drop=cap_net_admin,cap_sys_admin -- -c \
    "exec '$FAULTLINE' cleanup"
  expect_exit 0 "the proxy layer without CAP_NET_ADMIN" -- capsh --drop=cap_net_admin,cap_sys_admin -- -c \
    "exec '$FAULTLINE' run '$TMP/proxy.lua' --out '$TMP/proxy'"
  same_as_before "after the refused run"
else
  skip_part "capsh not installed (libcap2-bin): the unprivileged refusal is not tested"
fi
expect_no_leftovers "after every netns run"
finish
