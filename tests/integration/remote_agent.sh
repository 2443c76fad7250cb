#!/bin/sh
# faultline's agent on remote hosts (issue 16, lib/hosts.sh's test hosts): a
# run with --hosts starts one agent per host through its ssh master (faultline
# copied there with scp the first time, not the second), records each host's
# clock offset in report.json and ends the agents with the run; kill -9 of
# faultline ends them too. An agent whose connection drops kills what it
# started (a service and its detached child) and removes its nftables table;
# what an agent killed with -9 left is removed by `faultline cleanup --hosts`.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

hosts_up 2
command -v nft >/dev/null 2>&1 || skip "nft not installed (tools/deps.sh)"
cat >"$TMP/hosts.lua" <<LUA
local kh = "$HOSTS_KNOWN"
return {
  { name = "n1", address = "$HOSTS_ADDR_1", user = "root", identity = "$HOSTS_KEY", known_hosts = kh },
  { name = "n2", address = "$HOSTS_ADDR_2", user = "root", identity = "$HOSTS_KEY", known_hosts = kh },
}
LUA
cat >"$TMP/nap.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("nap", function() fl.sleep(tonumber(os.getenv("NAP") or "1")) end)
LUA
# agents I: the pids of faultline agents running on host I.
agents() {
  for p in $(ip netns pids "$(eval echo "\$HOSTS_NS_$1")" 2>/dev/null); do
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q " agent --run " && echo "$p"
  done
}
# wait_for SECONDS CMD...: polls CMD every 0.2 s; its status.
wait_for() {
  n=$(($1 * 5))
  shift
  while [ $n -gt 0 ]; do
    "$@" && return 0
    sleep 0.2
    n=$((n - 1))
  done
  return 1
}
both_agents() { [ -n "$(agents 1)" ] && [ -n "$(agents 2)" ]; }
no_agents() { [ -z "$(agents 1)" ] && [ -z "$(agents 2)" ]; }

NAP=3 "$FAULTLINE" run "$TMP/nap.lua" --hosts "$TMP/hosts.lua" --out "$TMP/r1" -q \
  >"$TMP/r1.out" 2>&1 &
run=$!
wait_for 20 both_agents && ok "one agent per host during the run" ||
  fail "agents during the run: n1 '$(agents 1)', n2 '$(agents 2)'"
wait $run && ok "the run passed" || { fail "the run: $(cat "$TMP/r1.out")"; }
no_agents && ok "the agents end with the run" || fail "agents left: $(agents 1) $(agents 2)"
python3 - "$TMP/r1/report.json" <<'PY' && ok "report.json: hosts[] with each host's clock offset" || fail "report.json hosts[]"
import json, sys
h = json.load(open(sys.argv[1]))["hosts"]
assert [x["name"] for x in h] == ["n1", "n2"], h
assert all(abs(x["offset_s"]) < 1.0 for x in h), h
PY
expect_exit 0 "a second run" -- "$FAULTLINE" run "$TMP/nap.lua" --hosts "$TMP/hosts.lua" --out "$TMP/r2" -q
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hosts"]; sys.exit(any(x["copied"] for x in h))' \
  "$TMP/r2/report.json" && ok "the second run copies nothing (the build is there)" ||
  fail "the second run copied faultline again"

# kill -9 of faultline mid-run: the agents' stdin closes, they end.
NAP=30 "$FAULTLINE" run "$TMP/nap.lua" --hosts "$TMP/hosts.lua" --out "$TMP/r3" -q \
  >"$TMP/r3.out" 2>&1 &
run=$!
wait_for 20 both_agents || fail "no agents in the run to kill"
kill -9 $run
wait $run 2>/dev/null
wait_for 10 no_agents && ok "kill -9 of faultline: no agent left on any host" ||
  fail "agents left after kill -9: $(agents 1) $(agents 2)"

BIN=$(hosts_ssh 1 "ls /tmp/faultline-agent/bin/" | head -1)
BIN=/tmp/faultline-agent/bin/$BIN
# agent_session ID: an agent of run ID on host 1, fed from fifo $TMP/in.ID
# (held open on fd 7), its events in $TMP/ev.ID; starts service w (sleep
# ID-marked, with a detached child) and its table flrID.
agent_session() {
  mkfifo "$TMP/in.$1"
  hosts_ssh 1 "$BIN agent --run $1" <"$TMP/in.$1" >"$TMP/ev.$1" 2>&1 &
  echo $! >"$TMP/ssh.$1"
  exec 7>"$TMP/in.$1"
  printf '%s\n' \
    "{\"op\":\"start\",\"name\":\"w\",\"cmd\":[\"sh\",\"-c\",\"sleep $2$1 & echo up; exec sleep $3$1\"]}" \
    "{\"op\":\"nft\",\"script\":\"add table inet flr$1\\n\"}" >&7
  wait_for 10 grep -q '"ev":"nft"' "$TMP/ev.$1" && wait_for 5 grep -q '"line":"up"' "$TMP/ev.$1"
}
sleeping() { pgrep -f "^sleep $1\$" >/dev/null; }
table() { ip netns exec "$HOSTS_NS_1" nft list tables 2>/dev/null | grep -q "inet flr$1\$"; }

if agent_session 00001111 41 42; then
  grep -q '"ok":true' "$TMP/ev.00001111" && table 00001111 && sleeping 4100001111 &&
    ok "the agent started the service (its detached child too) and made its table" ||
    fail "agent session: $(cat "$TMP/ev.00001111")"
  grep -q '"ev":"log","name":"w","stream":"stdout","line":"up","t":[0-9]' "$TMP/ev.00001111" &&
    ok "log lines come back time-stamped" || fail "no time-stamped log line"
  kill -9 "$(cat "$TMP/ssh.00001111")" # the connection drops
  exec 7>&-
  gone() { ! sleeping 4100001111 && ! sleeping 4200001111 && ! table 00001111; }
  wait_for 10 gone && ok "the connection dropped: service, its child and the table are gone" ||
    fail "left after the drop: $(pgrep -af 'sleep 4[12]00001111'); table: $(table 00001111 && echo yes)"
  hosts_ssh 1 "test -e /tmp/faultline-agent/00001111" && fail "the agent's state is left" ||
    ok "the agent's state is removed"
else
  fail "agent session did not start: $(cat "$TMP/ev.00001111")"
fi

# An agent killed with -9 cannot clean up: faultline cleanup --hosts does.
if agent_session 00002222 51 52; then
  kill -9 $(agents 1)
  exec 7>&-
  wait_for 5 sleeping 5100002222 && table 00002222 &&
    ok "an agent killed with -9 leaves the detached child and the table" ||
    fail "nothing left to clean up after kill -9 of the agent"
  expect_exit 0 "faultline cleanup --hosts" -- "$FAULTLINE" cleanup --hosts "$TMP/hosts.lua"
  expect_grep "$TMP/out" "^n1: run 00002222: process group [0-9]+; killed" "it names the host and the group"
  expect_grep "$TMP/out" "^n1: run 00002222: nftables table inet flr00002222; removed" "and the table"
  gone() { ! sleeping 5100002222 && ! table 00002222; }
  wait_for 5 gone && ok "cleanup --hosts removed the leftovers" ||
    fail "left after cleanup: $(pgrep -af 'sleep 5100002222')"
  expect_exit 0 "faultline cleanup --hosts again" -- "$FAULTLINE" cleanup --hosts "$TMP/hosts.lua"
  expect_grep "$TMP/out" "^n1: faultline agent --cleanup: nothing left behind" "then nothing is left"
else
  fail "agent session did not start: $(cat "$TMP/ev.00002222")"
fi
finish
