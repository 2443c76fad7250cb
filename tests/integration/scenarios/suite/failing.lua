local fl = require("faultline")
fl.scenario("fails on purpose", function()
  fl.expect.eventually(function() return false end, { within = 0.2, name = "never" })
end)
