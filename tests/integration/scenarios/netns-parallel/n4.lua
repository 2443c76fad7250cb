local fl = require("faultline")
fl.scenario("netns 4", function()
  local net = fl.network{ mode = "netns" }
  local a = fl.service{ name = "a", cmd = { "sleep", "30" } }
  local b = fl.service{ name = "b", cmd = { "sleep", "30" } }
  a:start(); b:start()
  fl.log("subnet %s", net.subnet)
  fl.sleep(2)
end)
