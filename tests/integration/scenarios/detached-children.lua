-- A service whose workers leave its process group (setsid + double fork, as
-- PostgreSQL's backends and daemonizing scripts do). Each worker rewrites
-- its file every 20 ms (write, then rename: a reader never sees it empty), so the test can tell running, frozen and gone apart.
-- FL_MODE: "kill" (kill, then check), "pause" (pause 1 s, resume), "hold"
-- (start and wait: the test kills faultline itself).
local fl = require("faultline")
local mode = os.getenv("FL_MODE") or "kill"
local out = assert(os.getenv("FL_OUT"), "FL_OUT: where the workers write")

fl.scenario("detached children " .. mode, function()
  local svc = fl.service{ name = "forker", cmd = { "python3", "-c", [[
import os, sys, time
out, tag = sys.argv[1], sys.argv[2]
for i in range(3):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            sys.argv[0] = tag
            while True:
                path = "%s/worker-%d" % (out, i)
                with open(path + ".tmp", "w") as f:
                    f.write("%d %.6f" % (os.getpid(), time.time()))
                os.replace(path + ".tmp", path)
                time.sleep(0.02)
        os._exit(0)
print("ready", flush=True)
while True:
    time.sleep(1)
]], out, "fl-detached-worker" }, ready = fl.probe.log("ready") }
  svc:start()
  fl.sleep(0.4)
  if mode == "kill" then
    svc:kill()
    fl.log("killed")
  elseif mode == "pause" then
    svc:pause()
    fl.log("paused")
    fl.sleep(3.0) -- the test samples each worker for 0.25 s after it sees "paused"
    svc:resume()
    fl.log("resumed")
    fl.sleep(4.0)
  else
    fl.log("holding")
    fl.sleep(60)
  end
end)
