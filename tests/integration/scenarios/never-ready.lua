local fl = require("faultline")
fl.scenario("never ready", function()
  local port = fl.port()
  local s = fl.service{ name = "mute", cmd = { "sh", "-c", "echo booting; echo still booting; sleep 60" },
    ready = fl.probe.tcp("127.0.0.1:" .. port, { timeout = 1 }) }
  s:start()
end)
fl.scenario("runs after the failed one", function()
  fl.sleep(0.05)
end)
