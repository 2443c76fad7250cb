-- The drift check of the Lua API reference (docs/lua-api/*.md) against the
-- runtime API: run by tests/integration/lua_api_docs.sh with FL_API_DOCS set
-- to the reference's folder. Prints one "DRIFT: ..." line per problem and
-- "checked: ..." figures; the scenario fails when there is any drift.
--
--   * every public name of faultline (fl.*, walked through its plain tables)
--     and of each faultline.lib.* module has a heading;
--   * every documented fl.*, library name and method of a known handle
--     exists at run time;
--   * for every documented call with an options table, the option checker's
--     own list (the "known: ..." of the error an undocumented option raises)
--     is exactly the documented options.
local fl = require("faultline")

local DOCS, LIBDIR -- set when the scenario runs (fl.info needs a scenario)

local drift = {}
local function problem(fmt, ...) drift[#drift + 1] = string.format(fmt, ...) end

---------------------------------------------------------------------------
-- The reference, as the grammar in docs/lua-api/README.md says.

local function ls(dir, suffix)
  local r = fl.exec{ "ls", "-1", dir }
  local out = {}
  for name in r.stdout:gmatch("[^\n]+") do
    if name:sub(-#suffix) == suffix then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

-- entries[sig-name] = {file=, line=, sig=, options = {name = true} | nil, opt_pos = n}
local function parse(path, file, entries)
  local cur, in_opts
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    local sig = line:match("^###%s+`([^`]+)`")
    if sig then
      local name = sig:match("^([%w_.:]+)")
      local args = sig:sub(#name + 1)
      cur = entries[name] or { file = file, line = n, name = name, sig = sig }
      entries[name] = cur
      if args:sub(1, 1) == "{" then
        cur.opt_pos = 1
      elseif args:sub(1, 1) == "(" then
        local i = 0
        for a in args:sub(2, -2):gmatch("[^,]+") do
          i = i + 1
          if a:match("^%s*%[?%s*{") then cur.opt_pos = i end
        end
      end
      in_opts = false
    elseif line:match("^#") then
      cur, in_opts = nil, false
    elseif cur and line:match("^|%s*option%s*|%s*type%s*|%s*default%s*|%s*meaning%s*|") then
      in_opts = true
      cur.options = cur.options or {}
    elseif in_opts and line:match("^|") then
      local opt = line:match("^|%s*`([^`]+)`")
      if opt and not opt:match("^%[") and not line:match("^|%s*%-%-%-") then
        cur.options[opt] = true
      end
    else
      in_opts = false
    end
  end
end

local entries, files = {}, {}
local function read_reference()
  for _, f in ipairs(ls(DOCS, ".md")) do
    if f ~= "README.md" then
      files[#files + 1] = f
      parse(DOCS .. "/" .. f, f, entries)
    end
  end
end

---------------------------------------------------------------------------
-- The runtime API.

local libs = {}
local function load_libs()
  for _, f in ipairs(ls(LIBDIR, ".lua")) do
    local name = f:sub(1, -5)
    libs[name] = require("faultline.lib." .. name)
  end
end

-- Public names of a plain table, walked into plain tables (not handles).
local function walk(t, prefix, out, seen)
  seen = seen or {}
  if seen[t] then return out end
  seen[t] = true
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then
      local name = prefix .. "." .. k
      -- A plain table is a namespace (fl.check): its members are the names.
      if type(v) == "table" and getmetatable(v) == nil then
        walk(v, name, out, seen)
      else
        out[name] = v
      end
    end
  end
  return out
end

local runtime = {}

-- A value reachable from a dotted name (fl.a.b, util.x), or nil.
local function resolve(name)
  local first, rest = name:match("^([%w_]+)(.*)$")
  local v = first == "fl" and fl or libs[first]
  for k in rest:gmatch("%.([%w_]+)") do
    if type(v) ~= "table" then return nil end
    v = v[k]
  end
  return v
end

---------------------------------------------------------------------------
-- Handles: how the test gets one of each (README.md's list).

local handles = {}
local self_for = {} -- a handle made for one call (svc:clock needs clock = true)
local function make_handles()
  self_for["svc:clock"] = fl.service{ name = "doc-clock", cmd = { "sleep", "30" }, clock = true }
  local up = fl.port()
  handles.svc = fl.service{ name = "doc-svc", cmd = { "sleep", "30" } }
  handles.svc:start()
  handles.proxy = fl.proxy{ upstream = "127.0.0.1:" .. up, from = "doc-a", to = "doc-b" }
  handles.udp = fl.udp_proxy{ upstream = "127.0.0.1:" .. up, from = "doc-a", to = "doc-b" }
  handles.net = fl.network{ mode = "proxy" }
  handles.task = fl.spawn(function() return 1 end)
  local gen = { next = function() return { f = "read", key = "k" } end,
                run = function() return "ok", 1 end }
  handles.w = fl.workload{ clients = 1, duration = 0.05, ops = gen, name = "doc" }
  handles.w:wait()
  handles.task:wait()
  handles.conn = assert(fl.tcp.connect("127.0.0.1:" .. handles.proxy.listen:match(":(%d+)$")))
  handles.fault = fl.fault("doc-fault", { "doc-svc" })
  -- The libraries' handles (lib.md), declared but never started.
  handles.cluster = libs.kvnode.cluster{ nodes = 2 }
  handles.rs = libs.redis.replicated{ replicas = 1 }
  handles.ec = libs.etcd.cluster{ nodes = 1 }
  handles.shop = libs.shop.system{ orders = 1, inventory = 1,
    script = LIBDIR .. "/../microservices/shop.py" }
end

-- Public methods a handle's metatable lists (its __index table, or the
-- `methods` table C handles keep), or nil when they cannot be listed.
local function methods_of(h)
  local mt = getmetatable(h)
  local t = mt and (type(mt.__index) == "table" and mt.__index or mt.methods)
  if type(h) == "table" and not t then t = h end
  if type(t) ~= "table" then return nil end
  local out = {}
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and k:sub(1, 2) ~= "__"
      and type(v) == "function" then out[k] = true end
  end
  return out
end

---------------------------------------------------------------------------
-- Options: the checker's own list, from the error an unknown key raises.

-- Calls whose option check cannot be reached without a setup this test does
-- not make (a network namespace, a clock-faulted service): checked to exist.
local needs_setup = {
  ["svc:limit"] = "needs a service in a network namespace",
  ["svc:netem"] = "needs a service in a network namespace",
  ["net:reaches"] = "needs a network namespace",
}
-- Fields that are nil on the handles made here (proxy mode).
local nil_here = { ["svc.addr"] = "netns mode only", ["svc.netns"] = "netns mode only" }
-- Keys a layer takes before the C checker sees the spec.
local taken_before = { ["fl.service"] = { network = true } }

local function known_options(entry)
  local f, self
  local h, m = entry.name:match("^([%w_]+):([%w_]+)$")
  if h then
    self = self_for[entry.name] or handles[h]
    f = self and self[m]
  else
    f = resolve(entry.name)
  end
  if type(f) ~= "function" then return nil, "not a function" end
  -- The arguments before the options: an address-like string, or a number
  -- for calls that take a count; the options are checked before they are
  -- used.
  local list, err
  for _, dummy in ipairs({ "127.0.0.1:1", 1 }) do
    local args, n = {}, entry.opt_pos
    for i = 1, n - 1 do args[i] = dummy end
    args[n] = { zz_undocumented = true }
    local ok
    if self then
      ok, err = pcall(f, self, table.unpack(args, 1, n))
    else
      ok, err = pcall(f, table.unpack(args, 1, n))
    end
    if ok then return nil, "accepted an undocumented option" end
    err = tostring(type(err) == "table" and err.message or err)
    list = err:match("unknown option 'zz_undocumented' %(known: ([^)]*)%)")
    if list then break end
  end
  if not list then return nil, "raised no unknown-option error: " .. tostring(err) end
  local known = {}
  for k in list:gmatch("[^,]+") do
    k = k:match("^%s*(.-)%s*$")
    if not k:match("^or ") then known[k] = true end
  end
  for k in pairs(taken_before[entry.name] or {}) do known[k] = true end
  return known
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

fl.scenario("the Lua API reference matches the runtime API", { timeout = 60 }, function()
  DOCS = os.getenv("FL_API_DOCS") or (fl.info().source_dir .. "/docs/lua-api")
  LIBDIR = os.getenv("FL_API_LIBS") or (fl.info().source_dir .. "/scenarios/lib")
  read_reference()
  load_libs()
  walk(fl, "fl", runtime)
  for lname, M in pairs(libs) do walk(M, lname, runtime) end
  make_handles()
  local counts = { names = 0, methods = 0, options = 0, unchecked = 0 }

  -- runtime -> reference
  for _, name in ipairs(keys(runtime)) do
    if not entries[name] then
      problem("%s exists at run time but has no heading in docs/lua-api/", name)
    end
    counts.names = counts.names + 1
  end
  for h, obj in pairs(handles) do
    for m in pairs(methods_of(obj) or {}) do
      local name = h .. ":" .. m
      if not entries[name] and not entries[h .. "." .. m] then
        problem("%s exists at run time but has no heading in docs/lua-api/", name)
      end
      counts.methods = counts.methods + 1
    end
  end

  -- reference -> runtime, and options
  for _, name in ipairs(keys(entries)) do
    local e = entries[name]
    local at = e.file .. ":" .. e.line
    local h, sep, m = name:match("^([%w_]+)([:.])([%w_]+)$")
    local exists
    if name:match("^fl%.") or (libs[name:match("^([%w_]+)")] and sep ~= ":") then
      h = nil -- a function or field of faultline or of a library, not a handle's
      exists = resolve(name) ~= nil or runtime[name] ~= nil
    elseif h and handles[h] then
      local ok, v = pcall(function() return handles[h][m] end)
      exists = ok and (v ~= nil or nil_here[name] ~= nil) and (sep == "." or type(v) == "function")
    else
      exists = true -- a handle of another area or library: not made here
      counts.unchecked = counts.unchecked + 1
    end
    if not exists then
      problem("%s (%s) is documented but does not exist at run time", name, at)
    elseif e.opt_pos and e.options and (not h or handles[h]) then
      if needs_setup[name] then
        print(string.format("not probed: %s options (%s)", name, needs_setup[name]))
      else
        local known, why = known_options(e)
        if not known then
          problem("%s (%s): its documented options could not be checked: %s", name, at, why)
        else
          for k in pairs(e.options) do
            if not known[k] then
              problem("%s (%s): documented option '%s' is not accepted", name, at, k)
            end
          end
          for k in pairs(known) do
            if not e.options[k] then
              problem("%s (%s): option '%s' is accepted but not documented", name, at, k)
            end
          end
          counts.options = counts.options + 1
        end
      end
    end
  end
  handles.svc:stop()
  for _, d in ipairs(drift) do print("DRIFT: " .. d) end
  print(string.format("checked: %d files, %d headings, %d runtime names, %d handle methods, "
    .. "%d option lists, %d headings of handles not made here", #files, #keys(entries),
    counts.names, counts.methods, counts.options, counts.unchecked))
  if #files == 0 then problem("no reference file (*.md but README.md) in %s", DOCS) end
  -- The editor annotations are Lua that loads (LuaLS reads them as code).
  local EDITOR = os.getenv("FL_API_EDITOR") or (fl.info().source_dir .. "/editor")
  local nmeta = 0
  for _, f in ipairs(ls(EDITOR, ".lua")) do
    local chunk, err = loadfile(EDITOR .. "/" .. f)
    if not chunk then problem("editor/%s does not parse: %s", f, err) end
    nmeta = nmeta + 1
  end
  if nmeta == 0 then problem("no annotation file in %s", EDITOR) end
  fl.check.record{ name = "reference matches runtime", status = #drift == 0 and "pass" or "fail",
    message = #drift .. " drift(s)" }
end)
