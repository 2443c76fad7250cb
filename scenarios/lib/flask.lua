-- Python web apps (Flask or anything else that serves GET /health) started
-- as faultline services on 127.0.0.1.
--
--   local flask = require("faultline.lib.flask")
--   local svc, port = flask.app{ name = "api-1", script = "/path/app.py",
--                                args = { "--port", "{port}" } }
--   svc:start()
--
-- "{port}" in args is replaced by the port (from fl.port() unless given).
-- The interpreter: flask.app{python = "/path/python3"}, or FL_PYTHON in the
-- environment, or /usr/bin/python3 (Debian's, where python3-flask installs),
-- or python3 from PATH.
local fl = require("faultline")
local util = require("faultline.lib.util")

local M = {}

function M.python(opts)
  if opts and opts.python then return opts.python end
  local env = os.getenv("FL_PYTHON")
  if env and env ~= "" then return env end
  if util.exists("/usr/bin/python3") then return "/usr/bin/python3" end
  return "python3"
end

--- flask.app{name=, script=, args={...}, port=, python=, env={}, ready_path="/health",
--- ready_timeout=15} -> service (unstarted), port
function M.app(opts)
  opts = fl.options(opts, "flask.app",
    { name = true, script = true, args = true, port = true, python = true, env = true,
      ready_path = true, ready_timeout = true })
  local port = opts.port or fl.port()
  local cmd = { M.python(opts), opts.script or error("flask.app: 'script' is required", 2) }
  for _, a in ipairs(opts.args or {}) do
    cmd[#cmd + 1] = (tostring(a):gsub("{port}", tostring(port)))
  end
  local env = { PYTHONUNBUFFERED = "1", PYTHONDONTWRITEBYTECODE = "1" }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local svc = fl.service{ name = opts.name, cmd = cmd, env = env,
    ready = fl.probe.http(string.format("http://127.0.0.1:%d%s", port, opts.ready_path or "/health"),
      { timeout = opts.ready_timeout or 15 }) }
  return svc, port
end

return M
