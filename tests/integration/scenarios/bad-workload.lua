local fl = require("faultline")
fl.scenario("bad clients", function()
  fl.workload{ clients = "4", duration = 1, ops = { next = function() return { f = "read" } end, run = function() return "ok" end } }
end)
fl.scenario("bad outcome", function()
  local w = fl.workload{ clients = 1, duration = 0.2, ops = { next = function() return { f = "read" } end,
    run = function() return "okay" end } }
  w:wait()
end)
