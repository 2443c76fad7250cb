-- Whether a failed request may have reached the server (issue 12): the
-- fourth value of fl.http.* and of conn:send errors.
local fl = require("faultline")

local function show(what, r, err, code, sent)
  fl.log("%s: %s %s %s %s", what, tostring(r), tostring(err), tostring(code), tostring(sent))
end

fl.scenario("client outcomes", function()
  local helpers = fl.info().source_dir .. "/tests/integration/helpers"
  local hp, tp = fl.port(), fl.port()
  fl.service{ name = "server", ready = fl.probe.log("listening"),
    cmd = { "python3", "-u", helpers .. "/outcome_server.py", tostring(hp), tostring(tp) } }:start()

  -- Nothing listens: surely not sent.
  local r, err, code, sent = fl.http.get("http://127.0.0.1:" .. fl.port() .. "/", { timeout = 2 })
  show("http refused", r, err, code, sent)
  fl.expect.that(r == nil and code == "ECONNREFUSED" and sent == false,
    "http refused is not sent: " .. tostring(code) .. " " .. tostring(sent))

  -- Applied on a kept-alive connection, then the server died and refused
  -- libcurl's retry: maybe sent, whatever the error says.
  local base = "http://127.0.0.1:" .. hp
  r = fl.http.get(base .. "/hello", { timeout = 2 })
  fl.expect.that(r ~= nil and r.status == 200, "hello answered")
  r, err, code, sent = fl.http.put(base .. "/apply-and-die", { body = "690", timeout = 2 })
  show("http applied then refused", r, err, code, sent)
  fl.expect.that(r == nil and sent == true,
    "http applied then refused may be sent: " .. tostring(code) .. " " .. tostring(sent))

  -- fl.tcp: a send the peer accepted, then a send after the peer reset.
  local c = assert(fl.tcp.connect("127.0.0.1:" .. tp))
  fl.expect.that(c:send("reset\n") == true, "tcp send ok")
  fl.sleep(0.3)
  r, err, code, sent = c:send("after the reset\n")
  show("tcp send after reset", r, err, code, sent)
  fl.expect.that(r == nil and sent == false,
    "tcp send after a reset is not sent: " .. tostring(err) .. " " .. tostring(sent))
  c:close()

  -- A peer that stops reading: the send times out with bytes on the way.
  c = assert(fl.tcp.connect("127.0.0.1:" .. tp))
  assert(c:send("hold\n"))
  r, err, code, sent = c:send(string.rep("x", 16 << 20), { timeout = 0.5 })
  show("tcp send timed out", r, err, code, sent)
  fl.expect.that(r == nil and code == "ETIMEDOUT" and sent == true,
    "tcp send timed out may be sent: " .. tostring(err) .. " " .. tostring(sent))
  c:close()
end)
