#!/bin/sh
# Services on remote hosts (issue 16): fl.service{ host = "n1", ... } runs on
# the host through its agent: start waits for an HTTP probe against the
# host's address, the log comes back into logs/<name>.log, pause stops it
# answering and resume brings it back (pause fault), kill ends it (kill
# fault), start again works, stop ends it; a crash is recorded (remote_exit
# with its status) and alive() says so; a service that exits before it is
# ready fails start() with its status and last log lines.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/hosts.sh"

hosts_up 1
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
cat >"$TMP/scen.lua" <<LUA
local fl = require("faultline")
fl.hosts{ { name = "n1", address = "$HOSTS_ADDR_1", user = "root", identity = "$HOSTS_KEY",
            known_hosts = "$HOSTS_KNOWN" } }
fl.scenario("remote services", { timeout = 50 }, function()
  local url = "http://$HOSTS_ADDR_1:8765/"
  local web = fl.service{ host = "n1", name = "web", stop_timeout = 2,
    cmd = { "python3", "-u", "-m", "http.server", "8765", "--bind", "$HOSTS_ADDR_1" },
    ready = fl.probe.http(url, { timeout = 15 }) }
  fl.expect.that(web.addr == "$HOSTS_ADDR_1", "svc.addr is the host's address")
  web:start()
  fl.expect.that(web:alive() and web.pid ~= nil, "started and alive")
  local r = fl.http.get(url, { timeout = 2 })
  fl.expect.that(r and r.status == 200, "answers over the host's address")
  web:pause()
  local p = fl.http.get(url, { timeout = 1 })
  fl.expect.that(p == nil, "paused: no answer")
  web:resume()
  r = fl.http.get(url, { timeout = 3 })
  fl.expect.that(r and r.status == 200, "resumed: answers again")
  web:kill()
  fl.expect.that(not web:alive(), "killed")
  web:start()
  fl.expect.that(web:alive(), "started again")
  web:stop()
  fl.expect.that(not web:alive(), "stopped")
  local crash = fl.service{ host = "n1", name = "crash", cmd = { "sh", "-c", "sleep 0.3; exit 3" } }
  crash:start()
  fl.sleep(1.5)
  fl.expect.that(not crash:alive(), "a crash is seen")
  local early = fl.service{ host = "n1", name = "early",
    cmd = { "sh", "-c", "echo bye-bye; exit 4" }, ready = fl.probe.tcp("$HOSTS_ADDR_1:1", { timeout = 5 }) }
  local ok, err = pcall(early.start, early)
  fl.log("EARLY %s", tostring(err))
  fl.expect.that(not ok and tostring(err):find("exited before it was ready") ~= nil
    and tostring(err):find("bye%-bye") ~= nil, "exit before ready: status and last lines")
end)
LUA
expect_exit 0 "a scenario with services on a host" -- \
  "$FAULTLINE" run "$TMP/scen.lua" --out "$TMP/r" -q
expect_grep "$TMP/r/logs/web.log" '^[0-9]+\.[0-9]+ n1 err: .*"GET / HTTP/1.1" 200' \
  "the service's log lines, time-stamped, in logs/web.log"
expect_grep "$TMP/r/timeline.jsonl" '"host":"n1","name":"crash","status":3' "the crash is on the timeline"
python3 - "$TMP/r/report.json" <<'PY' && ok "kill and pause faults recorded" || fail "faults: $(cat "$TMP/r/report.json" | head -c 600)"
import json, sys
kinds = sorted(f["kind"] for f in json.load(open(sys.argv[1]))["faults"])
assert "kill" in kinds and "pause" in kinds, kinds
PY
pgrep -f "http.server 8765" >/dev/null && fail "the service outlived the run" ||
  ok "nothing left on the host after the run"
finish
