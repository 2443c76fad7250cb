-- Without cgroups (run as nobody by service_resources.sh): the resource
-- series come from /proc for the service's process group, and a resource
-- fault raises an error that names the service and what is missing.
local fl = require("faultline")

fl.scenario("resources without cgroups", { timeout = 20 }, function()
  local busy = fl.service{ name = "spin", cmd = { "sh", "-c", "while :; do :; done" } }
  busy:start()
  fl.sleep(1.2)
  busy:cpu{ quota = 0.2 }
end)

-- A nemesis asked for cpu in a run without cgroups stops with that error.
fl.scenario("nemesis cpu without cgroups", { timeout = 20 }, function()
  local s = fl.service{ name = "idle", cmd = { "sleep", "30" } }
  s:start()
  local nem = fl.nemesis{ faults = { "cpu" }, duration = { 0.2, 0.3 }, calm = { 0.1, 0.2 }, window = 2 }
  nem:wait()
end)
