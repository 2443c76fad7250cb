-- user, group, umask, rlimits and stop_signal of fl.service: the service
-- writes what it runs as into its folder, and what signal stopped it.
local fl = require("faultline")

fl.scenario("identity", function()
  local dir = fl.info().dir .. "/ident"
  fl.exec{ "mkdir", "-p", dir }
  local svc = fl.service{ name = "who", cwd = dir, user = "nobody", group = "nogroup",
    umask = "027", rlimits = { nofile = 123 }, stop_signal = "SIGINT",
    cmd = { "/usr/bin/python3", "-c", [[
import os, resource, signal, sys, time
def on_int(sig, frame):
    open("stopped-by", "w").write("SIGINT")
    sys.exit(0)
signal.signal(signal.SIGINT, on_int)
m = os.umask(0); os.umask(m)
open("whoami", "w").write("%d %d %o %d" % (os.getuid(), os.getgid(), m,
    resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
print("ready", flush=True)
while True:
    time.sleep(1)
]] }, ready = fl.probe.log("ready") }
  svc:start()
  svc:stop()
end)

fl.scenario("bad identity", function()
  fl.service{ name = "x", cmd = { "true" }, user = "no-such-user-here" }
end)

fl.scenario("bad signal", function()
  fl.service{ name = "x", cmd = { "true" }, stop_signal = "SIGNOPE" }
end)

fl.scenario("bad rlimit", function()
  fl.service{ name = "x", cmd = { "true" }, rlimits = { nfile = 10 } }
end)
