-- PostgreSQL 15 as user postgres with stop_signal = "SIGINT" (its fast
-- shutdown): with a client connected in a long query, stop returns in well
-- under a second, and every backend (each setsid()s) is gone with it.
local fl = require("faultline")
local data = assert(os.getenv("FL_PGDATA"), "FL_PGDATA: an initdb'd data directory")
local bin = "/usr/lib/postgresql/15/bin/"

fl.scenario("postgres fast stop", function()
  local port = fl.port()
  local pg = fl.service{ name = "pg", user = "postgres", stop_signal = "SIGINT", stop_timeout = 10,
    cmd = { bin .. "postgres", "-D", data, "-p", tostring(port), "-k", data,
            "-c", "listen_addresses=127.0.0.1" },
    ready = fl.probe.tcp("127.0.0.1:" .. port) }
  pg:start()
  local client = fl.service{ name = "client", user = "postgres",
    cmd = { "/usr/bin/psql", "-h", "127.0.0.1", "-p", tostring(port), "-d", "postgres",
            "-c", "select pg_sleep(60)" } }
  client:start()
  fl.sleep(0.5)
  local t0 = fl.now()
  pg:stop()
  local took = fl.now() - t0
  fl.log("postgres stopped in %.3f s", took)
  fl.check.record{ name = "fast stop", status = took < 1 and "pass" or "fail",
    message = string.format("stopped in %.3f s with a client in a query", took), took_s = took }
  client:stop()
end)
