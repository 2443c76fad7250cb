local fl = require("faultline")
fl.scenario("broken", function()
  fl.sleep(0.1)
  local x = = 1
end)
