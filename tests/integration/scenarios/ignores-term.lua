local fl = require("faultline")
fl.scenario("a service that ignores SIGTERM", function()
  local s = fl.service{ name = "stubborn", stop_timeout = 0.5,
    cmd = { "sh", "-c", "trap '' TERM; echo up; sleep 300 & wait; sleep 300" },
    ready = fl.probe.log("^up$", { timeout = 5 }) }
  s:start()
  local t0 = fl.now()
  s:stop()
  local took = fl.now() - t0
  fl.expect.that(not s:alive(), "stopped")
  fl.expect.that(took >= 0.4 and took < 3, "SIGKILL after the grace period (" .. took .. " s)")
end)
