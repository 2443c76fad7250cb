-- etcd: the leader killed with SIGKILL and restarted from its data directory.
--
-- Three members, nine clients (three per member) reading, writing and
-- compare-and-setting four keys through the v3 JSON gateway. The leader is
-- killed (kill -9) for 3 s, then started again. Checks:
--   * the other two elect a leader within 5 s of the kill (measured: ~1-2 s);
--   * the history is linearizable (model kv: read, write, cas per key);
--   * clients succeed again within 3 s after the restart (measured: well
--     under 0.1 s; the other members' clients never stopped), and do not
--     stall again: no gap over 2 s without a success (measured: ~0.1 s);
--   * the restarted member catches up: every member reports the same leader
--     and raft index within 10 s once the writes stop (measured: <0.5 s).
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

fl.scenario("etcd leader killed and restarted", { timeout = 90 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = 13,
                            ops = etcd.register_ops{ cluster = c, keys = 4 } }
  fl.sleep(3)
  local old = c:wait_leader(5, nil, "a leader before the fault")
  old:kill()
  c:wait_leader(5, c:others(old), "the other two elect a leader after the kill")
  fl.sleep(3)
  old:start()
  local healed = fl.now()
  load:wait()
  local ended = fl.now()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  fl.check.linearizable{ model = "kv", history = load }
  -- A cas whose comparison failed is an answer: recovery counts reads and writes.
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.recovery{ history = rw, after = "kill", within = 3, name = "reads and writes" }
  local gap, at = util.longest_gap(util.operations(rw), healed, ended)
  util.within{ name = "longest stall after the fault", value = gap, limit = 2,
    message = string.format("no read or write succeeded for %.2f s from %.2f s", gap, at) }
end)
