-- etcd: the leader isolated from the majority (network namespaces).
--
-- Needs faultline's namespace layer (fl.network{mode = "netns"}: root, Linux,
-- nftables): etcd members advertise one peer URL to everyone, so proxies
-- cannot cut one member off from the others (DESIGN.md, "Two fault layers").
-- Each member gets its own namespace and address; clients (faultline) reach
-- every member over the bridge the whole time, only member-to-member traffic
-- is cut. Where the layer is missing the scenario says it is skipped and why,
-- and passes with no checks.
--
-- Nine clients on four keys; the leader is cut off from the two others for
-- 5 s. Its clients' requests hang: a write needs a quorum, a linearizable
-- read a heartbeat round (they end as timeouts: writes indeterminate, reads
-- failed). Checks:
--   * the majority elects a new leader within 5 s (measured: ~1.2-2 s);
--   * no stale read, no lost write: the history is linearizable;
--   * clients succeed again within 3 s of the heal;
--   * after the writes stop every member agrees on one leader and raft index
--     within 10 s, and the old leader is a follower.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

fl.scenario("etcd leader isolated from the majority (netns)", { timeout = 90 }, function()
  if not fl.network then
    fl.log("SKIPPED: this faultline has no fl.network (the network namespace layer); "
      .. "etcd cannot be partitioned pairwise through proxies")
    return
  end
  local ok, net = pcall(fl.network, { mode = "netns" })
  if not ok then
    fl.log("SKIPPED: network namespaces are not available here (%s); run as root on Linux "
      .. "with nftables", tostring(net))
    return
  end
  local c = etcd.cluster{ nodes = 3, network = net }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = 14,
                            ops = etcd.register_ops{ cluster = c, keys = 4 } }
  fl.sleep(3)
  local old = c:wait_leader(5, nil, "a leader before the fault")
  local rest = c:others(old)
  local t = fl.now()
  fl.partition{ { old }, rest }
  fl.expect.isolated(old, rest[1])
  c:wait_leader(5, rest, "the majority elects a new leader")
  fl.sleep(math.max(0, 5 - (fl.now() - t)))
  fl.heal()
  load:wait()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  local now = c:leader()
  fl.expect.that(now ~= old, string.format("the old leader %s is a follower (leader: %s)",
    old.name, now and now.name or "none"), "the old leader steps down")
  fl.check.linearizable{ model = "kv", history = load }
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.recovery{ history = rw, after = "partition", within = 3, name = "reads and writes" }
end)
