#!/bin/sh
# `faultline run FILE --hosts hosts.lua` (issue 16, the transport): with two
# test hosts (lib/hosts.sh) the run opens one ssh master per host, its
# socket under the run directory (ssh/h<i>), and closes them at the end; a
# host that does not answer, or refuses the key, stops the run with one
# message naming that host, exit 2, and no master is left to any host; a
# bad hosts file is one message naming the file and the field, exit 2.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

hosts_up 2
cat >"$TMP/scen.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("remote connect", function() fl.sleep(1.5) end)
LUA
# hosts_lua FILE ADDR2 KEY2: n1 as made, n2 at ADDR2 with key KEY2.
hosts_lua() {
  cat >"$1" <<LUA
local kh = "$HOSTS_KNOWN"
return {
  { name = "n1", address = "$HOSTS_ADDR_1", user = "root", identity = "$HOSTS_KEY", known_hosts = kh },
  { name = "n2", address = "$2", user = "root", identity = "$3", known_hosts = kh, port = 22 },
}
LUA
}
# The ssh processes (masters: "ssh: ssh/h0 [mux]") working in run dir $1.
masters() {
  for p in $(pgrep -x ssh); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$1" ] && echo "$p"
  done
}

hosts_lua "$TMP/hosts.lua" "$HOSTS_ADDR_2" "$HOSTS_KEY"
# Watches the run: the most masters ("[mux]") seen at once.
(
  most=0 i=0
  while [ $i -lt 60 ]; do
    n=0
    for p in $(masters "$TMP/ok"); do
      grep -q "mux" "/proc/$p/cmdline" 2>/dev/null && n=$((n + 1))
    done
    [ $n -gt $most ] && most=$n
    i=$((i + 1))
    sleep 0.1
  done
  echo $most >"$TMP/during"
) &
expect_exit 0 "a run with two reachable hosts" -- \
  "$FAULTLINE" run "$TMP/scen.lua" --hosts "$TMP/hosts.lua" --out "$TMP/ok" -q
wait $!
[ "$(cat "$TMP/during")" = 2 ] && ok "one ssh master per host during the run" ||
  fail "masters during the run: $(cat "$TMP/during")"
[ -d "$TMP/ok/ssh" ] && ok "control sockets under the run directory (ssh/)" ||
  fail "no ssh/ folder in the run directory"
[ -z "$(masters "$TMP/ok")" ] && [ -z "$(ls -A "$TMP/ok/ssh" 2>/dev/null)" ] &&
  ok "the masters are closed at the end" || fail "masters left: $(masters "$TMP/ok")"

# n2 at an address nobody answers on (inside the hosts' own /24).
hosts_lua "$TMP/gone.lua" "$HOSTS_NET.200" "$HOSTS_KEY"
expect_exit 2 "an unreachable host" -- \
  "$FAULTLINE" run "$TMP/scen.lua" --hosts "$TMP/gone.lua" --out "$TMP/gone" -q
cat "$TMP/out" "$TMP/err" "$TMP/gone/report.json" >"$TMP/gone.all" 2>/dev/null
expect_grep "$TMP/gone.all" "host \\\\?\"n2\\\\?\" \\($HOSTS_NET.200\\)" "the message names the unreachable host"
grep -q 'host \\\?"n1' "$TMP/gone.all" && fail "the reachable host n1 was named as failed" ||
  ok "only n2 is named"
[ -z "$(masters "$TMP/gone")" ] && ok "no master left to n1 after the failure" ||
  fail "masters left: $(masters "$TMP/gone")"

# n2 refuses a key it does not know.
ssh-keygen -q -t ed25519 -N '' -f "$TMP/stranger" </dev/null
hosts_lua "$TMP/refused.lua" "$HOSTS_ADDR_2" "$TMP/stranger"
expect_exit 2 "a host that refuses the key" -- \
  "$FAULTLINE" run "$TMP/scen.lua" --hosts "$TMP/refused.lua" --out "$TMP/refused" -q
cat "$TMP/out" "$TMP/err" "$TMP/refused/report.json" >"$TMP/refused.all" 2>/dev/null
expect_grep "$TMP/refused.all" "n2.*Permission denied" "the message names the host and says why"
[ -z "$(masters "$TMP/refused")" ] && ok "no master left after the refusal" ||
  fail "masters left: $(masters "$TMP/refused")"

# fl.hosts{...} in the file: the run connects to its hosts when no --hosts
# is given, and fl.hosts() lists them; with --hosts, --hosts wins.
cat >"$TMP/own.lua" <<LUA
local fl = require("faultline")
fl.hosts{ { name = "n1", address = "$HOSTS_ADDR_1", user = "root", identity = "$HOSTS_KEY",
            known_hosts = "$HOSTS_KNOWN" } }
fl.scenario("own hosts", function()
  local names = {}
  for _, h in ipairs(fl.hosts()) do names[#names + 1] = h.name .. "@" .. h.address end
  fl.log("HOSTS " .. table.concat(names, ","))
end)
LUA
expect_exit 0 "a file naming its own host with fl.hosts{...}" -- \
  "$FAULTLINE" run "$TMP/own.lua" --out "$TMP/own" -q
expect_grep "$TMP/own/timeline.jsonl" "HOSTS n1@$HOSTS_ADDR_1\"" "fl.hosts() lists the file's host"
[ -d "$TMP/own/ssh" ] && ok "the run connected to the file's host" || fail "no ssh/ in the run"
expect_exit 0 "the same file with --hosts" -- \
  "$FAULTLINE" run "$TMP/own.lua" --hosts "$TMP/hosts.lua" --out "$TMP/wins"
expect_grep "$TMP/wins/timeline.jsonl" "HOSTS n1@$HOSTS_ADDR_1,n2@$HOSTS_ADDR_2\"" \
  "--hosts wins over fl.hosts{...}"
cat "$TMP/out" "$TMP/err" >"$TMP/wins.all"
expect_grep "$TMP/wins.all" "fl.hosts\{...\} is ignored: --hosts FILE wins" "the log says so"

printf 'return { { name = "n1", address = "x", port = "22" } }\n' >"$TMP/bad.lua"
expect_exit 2 "a bad hosts file" -- \
  "$FAULTLINE" run "$TMP/scen.lua" --hosts "$TMP/bad.lua" --out "$TMP/bad" -q
expect_grep "$TMP/err" "bad.lua: host \"n1\": \`port\` wants" "the message names the file, host and field"
[ -e "$TMP/bad" ] && fail "a bad hosts file still made a run directory" ||
  ok "no run directory for a bad hosts file"
finish
