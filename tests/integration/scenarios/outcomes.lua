-- One scenario per way a scenario can end, each with a service that has a
-- child of its own; none may leave a process behind.
local fl = require("faultline")

local function start()
  return fl.service{ name = "svc", cmd = { "sh", "-c", "sleep 300 & echo ready; wait" },
    ready = fl.probe.log("ready", { timeout = 5 }) }:start()
end

fl.scenario("passes", function()
  start()
  fl.expect.that(true, "fine")
end)

fl.scenario("a check fails", function()
  start()
  fl.check.recovery{ after = "each fault", within = 1 }  -- no fault: an error check
end)

fl.scenario("an expectation fails", function()
  start()
  fl.expect.eventually(function() return false end, { within = 0.3, name = "never true" })
end)

fl.scenario("a Lua error", function()
  start()
  local t = nil
  return t.field
end)

fl.scenario("a spawned task fails", function()
  start()
  fl.spawn(function() fl.sleep(0.1) error("task exploded") end)
  fl.sleep(5)
end)

fl.scenario("the time limit", { timeout = 1 }, function()
  start()
  fl.sleep(30)
end)
