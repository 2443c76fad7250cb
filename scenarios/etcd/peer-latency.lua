-- etcd: 200 ms (+/- 50 ms) of latency on every peer link.
--
-- A latency toxic on the proxy in front of each member's peer port delays
-- every raft message a member receives on its streams (heartbeats, appends,
-- votes) by 150-250 ms, for 8 s. That is more than the heartbeat interval
-- (100 ms) but well under the election timeout (1 s): the cluster must stay
-- available, only slower. Checks:
--   * the history is linearizable;
--   * at least 95% of operations succeed during the latency;
--   * writes were really slowed: p50 write latency during the fault is at
--     least 150 ms (measured: about 760 ms: a follower forwards the proposal
--     to the leader, the leader needs a round trip to commit, the follower
--     learns the commit on the next message), and back after: under 50 ms,
--     or under 3x the p50 before the fault when the machine is slower than
--     that (a baseline from the same run: a busy CI runner is no finding);
--   * clients are fast again within 3 s of the heal, and a leader is there.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

fl.scenario("etcd under 200 ms peer latency", { timeout = 90 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = 15,
                            ops = etcd.register_ops{ cluster = c, keys = 4, timeout = 3 } }
  fl.sleep(3)
  c:wait_leader(5, nil, "a leader before the fault")
  local t0 = fl.now()
  for _, p in ipairs(c.proxies) do
    p:add_toxic{ type = "latency", latency = 200, jitter = 50 }
  end
  fl.sleep(8)
  for _, p in ipairs(c.proxies) do p:remove_toxic("latency_downstream") end
  local t1 = fl.now()
  load:wait()
  c:wait_leader(3, nil, "a leader after the latency")

  -- The toxic on three proxies is three faults with one window: check
  -- against the first.
  local fault = util.faults("latency")[1].id
  fl.check.linearizable{ model = "kv", history = load }
  -- A cas whose comparison failed is a definite answer, not unavailability:
  -- availability and recovery count reads and writes.
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.availability{ history = rw, after = fault, min = 0.95, name = "reads and writes" }
  fl.check.recovery{ history = rw, after = fault, within = 3, name = "reads and writes" }
  local ops = util.operations(load.history)
  local writes = function(op) return op.type == "ok" and op.f == "write" end
  local during = util.percentile(util.latencies(ops, t0 + 0.5, t1, writes), 0.5)
  local after = util.percentile(util.latencies(ops, t1 + 1, math.huge, writes), 0.5)
  local before = util.percentile(util.latencies(ops, 1, t0, writes), 0.5) or 0
  fl.log("p50 write latency: %.0f ms during, %.0f ms after", (during or 0) * 1000,
    (after or 0) * 1000)
  util.check("writes slowed by the peer latency", during and during >= 0.150,
    string.format("p50 write latency during the fault %.0f ms (want >= 150 ms)", (during or 0) * 1000))
  util.within{ name = "writes fast again after the heal", value = (after or 99) * 1000,
    limit = math.max(50, 3 * before * 1000), unit = "ms",
    message = string.format("p50 write latency after (%.0f ms before the fault)",
      before * 1000) }
end)
