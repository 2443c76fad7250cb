-- Transaction workloads for fl.check.transactions (Elle's two models), with
-- any client: the generator makes the micro-operations, the scenario's
-- `run` function performs them against its database.
--
--   local txn = require("faultline.lib.txn")
--   local gen = txn.list_append{ keys = 6, run = function(ops, ctx)
--     ... perform ops, fill in the reads ...
--     return "ok", ops        -- or "fail" / "info", nil, err
--   end }
--   fl.workload{ ops = gen, clients = 4, duration = 5, name = "txn" }
--   fl.check.transactions{ model = "list-append", history = w }
--
-- A transaction is one history operation f = "txn" whose value is the list
-- of micro-operations: {"append", k, v} / {"r", k, list} (list-append) or
-- {"w", k, v} / {"r", k, v} (rw-register); the invoke carries its reads as
-- fl.json.null, the ok completion what they read.
local fl = require("faultline")

local M = {}
local null = fl.json.null

local common_opts = { keys = true, min_length = true, max_length = true, read_ratio = true,
  max_writes_per_key = true, reread = true, run = true }

-- The options both generators share, checked and with their defaults.
local function settings(opts, what)
  opts = fl.options(opts, what, common_opts, 3)
  local s = {
    keys = opts.keys or 5,
    min_length = opts.min_length or 1,
    max_length = opts.max_length or 4,
    read_ratio = opts.read_ratio or 0.5,
    max_writes = opts.max_writes_per_key or 32,
    reread = opts.reread ~= false,
    run = opts.run,
  }
  local function bad(msg) error(what .. ": " .. msg, 4) end
  if type(s.run) ~= "function" then bad("'run' (a function(ops, ctx)) is required") end
  if math.type(s.keys) ~= "integer" or s.keys < 1 then bad("'keys' must be an integer >= 1") end
  if math.type(s.min_length) ~= "integer" or math.type(s.max_length) ~= "integer"
      or s.min_length < 1 or s.max_length < s.min_length then
    bad("'min_length' and 'max_length' must be integers with 1 <= min_length <= max_length")
  end
  if type(s.read_ratio) ~= "number" or s.read_ratio < 0 or s.read_ratio > 1 then
    bad("'read_ratio' must be a number between 0 and 1")
  end
  if math.type(s.max_writes) ~= "integer" or s.max_writes < 1 then
    bad("'max_writes_per_key' must be an integer >= 1")
  end
  return s
end

-- The key space: `keys` active keys; one that has had max_writes writes
-- retires and a fresh key takes its slot, so lists (and the checker's
-- version orders) stay short however long the run.
local function keyspace(s)
  local ks = { active = {}, writes = {}, next_key = 0 }
  for i = 1, s.keys do
    ks.active[i] = i
    ks.next_key = i
  end
  function ks.pick() return ks.active[fl.random(1, #ks.active)] end
  -- Counts a write of k and retires k at the limit; returns the value:
  -- 1, 2, 3 ... per key, so every write of a key is its own value.
  function ks.write(k)
    local n = (ks.writes[k] or 0) + 1
    ks.writes[k] = n
    if n >= s.max_writes then
      for i, a in ipairs(ks.active) do
        if a == k then
          ks.next_key = ks.next_key + 1
          ks.active[i] = ks.next_key
          break
        end
      end
    end
    return n
  end
  return ks
end

-- A generator over micro-operations made by `write_op(k, v)`.
local function generator(s, write_op)
  local ks = keyspace(s)
  local gen = {}
  function gen.next(ctx)
    local ops, touched = {}, {}
    for _ = 1, fl.random(s.min_length, s.max_length) do
      local k = ks.pick()
      -- Without `reread`, a key is read at most once in a transaction and
      -- never after the transaction wrote it: at READ COMMITTED each
      -- statement has its own snapshot, which would show as an internal
      -- inconsistency rather than an anomaly between transactions.
      if fl.random() < s.read_ratio and (s.reread or not touched[k]) then
        ops[#ops + 1] = { "r", k, null }
      else
        ops[#ops + 1] = write_op(k, ks.write(k))
      end
      touched[k] = true
    end
    return { f = "txn", value = ops }
  end
  function gen.run(op, ctx)
    -- The client gets its own copy: what it fills in is the completion's.
    local ops = {}
    for i, m in ipairs(op.value) do ops[i] = { m[1], m[2], m[3] } end
    local outcome, value, err = s.run(ops, ctx)
    if outcome == "ok" and value == nil then value = ops end
    return outcome, value, err
  end
  gen.keyspace = ks
  return gen
end

--- txn.list_append{run=, keys=5, min_length=1, max_length=4, read_ratio=0.5,
--- max_writes_per_key=32, reread=true}: a fl.workload generator of
--- list-append transactions ({"append", k, v}, {"r", k, nil}); `run(ops,
--- ctx)` performs them (filling each read's third element with the list it
--- read) and returns "ok" | "fail" | "info", value, err.
function M.list_append(opts)
  local s = settings(opts, "txn.list_append")
  return generator(s, function(k, v) return { "append", k, v } end)
end

--- txn.rw_register{...}: the same for read-write registers ({"w", k, v},
--- {"r", k, nil}); `run` fills each read with the value read (fl.json.null
--- for a key never written).
function M.rw_register(opts)
  local s = settings(opts, "txn.rw_register")
  return generator(s, function(k, v) return { "w", k, v } end)
end

return M
