-- A service with a child of its own, and a scenario that runs until it is
-- interrupted: for the SIGINT and SIGKILL tests.
local fl = require("faultline")
fl.scenario("long running", function()
  for i = 1, 2 do
    fl.service{ name = "svc" .. i, env = { FL_TEST_MARK = os.getenv("FL_TEST_MARK") },
      cmd = { "sh", "-c", "sleep 300 & echo ready; wait" },
      ready = fl.probe.log("ready", { timeout = 5 }) }:start()
  end
  fl.log("services up")
  fl.sleep(300)
end)
