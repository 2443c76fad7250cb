-- Transactions against an in-memory list store, recorded with fl.history
-- and judged by fl.check.transactions. Two engines:
--   serial    one transaction at a time (a lock): serializable;
--   snapshot  snapshot isolation with first-committer-wins: reads see the
--             snapshot taken at begin; a commit fails when another
--             committed to a key it appends to since. Write skew (G2-item)
--             happens; G-single and G1 never do.
local fl = require("faultline")
local null = fl.json.null

local function store(mode)
  local s = { data = {}, version = {}, clock = 0, busy = false }
  local function list(k) return s.data[k] or {} end
  function s.txn(ops)
    while mode == "serial" and s.busy do fl.sleep(0.001) end
    s.busy = true
    local snap, start, out, appends = {}, s.clock, {}, {}
    for k, v in pairs(s.data) do snap[k] = { table.unpack(v) } end
    for i, op in ipairs(ops) do
      local f, k, v = op[1], op[2], op[3]
      if f == "r" then
        local l = { table.unpack(snap[k] or {}) }
        out[i] = { "r", k, l }
      else
        snap[k] = snap[k] or {}
        table.insert(snap[k], v)
        appends[#appends + 1] = { k, v }
        out[i] = { "append", k, v }
      end
      fl.sleep(0.002) -- let others interleave
    end
    for _, a in ipairs(appends) do
      if (s.version[a[1]] or 0) > start then s.busy = false; return nil end
    end
    s.clock = s.clock + 1
    for _, a in ipairs(appends) do
      local l = list(a[1]); l[#l + 1] = a[2]; s.data[a[1]] = l
      s.version[a[1]] = s.clock
    end
    s.busy = false
    return out
  end
  return s
end

local function run(mode, consistency, name)
  local db = store(mode)
  local keys, nextv = { "x", "y", "z" }, 0
  local workers = {}
  for w = 1, 4 do
    workers[w] = fl.spawn(function()
      for _ = 1, 25 do
        local a = keys[fl.random(1, #keys)]
        local b = keys[fl.random(1, #keys)]
        nextv = nextv + 1
        local ops = { { "r", a, null }, { "r", b, null }, { "append", fl.random() < 0.5 and a or b, nextv } }
        local p = fl.history.process()
        local t0 = fl.history.invoke(p, "txn", nil, ops)
        local out = db.txn(ops)
        fl.history.complete(p, out and "ok" or "fail", "txn", nil, out or ops, nil, t0)
      end
    end)
  end
  for _, t in ipairs(workers) do t:wait() end
  return fl.check.transactions{ model = "list-append", consistency = consistency, name = name }
end

fl.scenario("serial engine is serializable", function()
  local r = run("serial", "serializable", "serial: serializable")
  fl.expect.that(r.valid == true and #r.anomaly_types == 0, "no anomaly: " .. tostring(r.message))
end)

fl.scenario("snapshot engine at snapshot isolation", function()
  local r = run("snapshot", "snapshot-isolation", "snapshot: snapshot-isolation")
  fl.expect.that(r.valid == true, "snapshot isolation holds: " .. tostring(r.message))
end)

fl.scenario("snapshot engine claimed serializable", function()
  run("snapshot", "serializable", "snapshot: serializable")
end)
