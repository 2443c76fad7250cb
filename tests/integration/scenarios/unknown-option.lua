local fl = require("faultline")
fl.scenario("unknown option", function()
  fl.service{ name = "s", cmd = { "sleep", "10" }, readyy = fl.probe.tcp("127.0.0.1:1") }
end)
