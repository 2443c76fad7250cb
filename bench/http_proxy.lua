-- A faultline proxy held open for bench/bench_http.sh: listens on
-- FL_BENCH_LISTEN, forwards to FL_BENCH_UPSTREAM and, when FL_BENCH_RULE is
-- 1, carries one HTTP rule that matches none of the benchmark's requests
-- (so every request is parsed and matched, none faulted). It runs until the
-- file FL_BENCH_STOP exists, then logs the rule's counters.
local fl = require("faultline")

local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then error("bench/http_proxy.lua: " .. name .. " is not set") end
  return v
end

fl.scenario("bench: a proxy for wrk", { timeout = 3600 }, function()
  local p = fl.proxy{ name = "bench", listen = env("FL_BENCH_LISTEN"),
                      upstream = env("FL_BENCH_UPSTREAM") }
  local rule = os.getenv("FL_BENCH_RULE") == "1"
  if rule then
    p:add_http_fault{ name = "never", match = { method = "POST", path = "/never-matches*" },
                      abort = { status = 503 } }
  end
  local stop = env("FL_BENCH_STOP")
  local function stopped()
    local f = io.open(stop, "r")
    if f then f:close() end
    return f ~= nil
  end
  while not stopped() do fl.sleep(0.2) end
  if rule then
    for _, r in ipairs(p:http_faults()) do
      fl.log("rule %s: matched %d, faulted %d", r.name, r.matched, r.faulted)
    end
    local st = p:http_stats()
    fl.log("parsed %d requests, rejected %d", st.parsed, st.rejected)
  end
end)
