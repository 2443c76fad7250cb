local fl = require("faultline")
local which = os.getenv("BAD_TOXIC")
fl.scenario("bad toxic", function()
  local p = fl.proxy{ upstream = "127.0.0.1:" .. fl.port() }
  if which == "negative" then
    p:add_toxic{ type = "latency", latency = -5 }
  elseif which == "type" then
    p:add_toxic{ type = "nosuch" }
  else
    p:add_toxic{ type = "latency", stream = "sideways" }
  end
end)
