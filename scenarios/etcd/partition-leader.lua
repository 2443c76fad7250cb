-- etcd: the leader isolated from the majority (network namespaces), with
-- etcd 3.4's default flags and with --pre-vote.
--
-- With `--hosts hosts.lua` (three hosts or more) the members run on the
-- first three hosts and the partition is nftables rules on the hosts
-- themselves (README.md, "Running on your own machines"); etcd must be
-- installed on each host.
--
-- Needs faultline's namespace layer (fl.network{mode = "netns"}: root, Linux,
-- nftables): etcd members advertise one peer URL to everyone, so proxies
-- cannot cut one member off from the others (DESIGN.md, "Two fault layers").
-- Each member gets its own namespace and address; clients (faultline) reach
-- every member over the bridge the whole time, only member-to-member traffic
-- is cut. Where the layer is missing the scenarios say they are skipped and
-- why, and pass with no checks.
--
-- Nine clients on four keys; the leader is cut off from the two others for
-- 5 s. Its clients' requests hang: a write needs a quorum, a linearizable
-- read a heartbeat round (they end as timeouts: writes indeterminate, reads
-- failed). Checks:
--   * the majority elects a new leader within 5 s (measured: ~1-1.5 s);
--   * no stale read, no lost write: the history is linearizable;
--   * clients succeed again within 3 s of the heal;
--   * the longest stall after the heal (no operation succeeding) stays under
--     a limit. Without --pre-vote (etcd 3.4's default) the isolated member,
--     which stepped down (CheckQuorum) and campaigned in vain with ever higher
--     terms, comes back with a term above the leader's and deposes it; it
--     cannot win (its log is behind), so the cluster has no leader for a
--     while, about 1 s after the heal (measured: 2.4-3.4 s without a
--     success; limit 6 s). With --pre-vote it never raises its term and
--     nothing stalls (measured: under 0.6 s; limit 1.5 s);
--   * after the writes stop every member agrees on one leader and raft index
--     within 10 s, and the old leader is a follower.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

local function isolate_leader(pre_vote, stall_limit)
  return function()
    -- On remote hosts (--hosts FILE) the members run one per host and the
    -- partition is host-side; else in network namespaces here.
    local net, why
    if #fl.hosts() < 3 then
      net, why = util.netns()
      if not net then
        fl.log("SKIPPED: %s; etcd cannot be partitioned pairwise through proxies", why)
        return
      end
    end
    local c = etcd.cluster{ nodes = 3, network = net, args = pre_vote and { "--pre-vote" } or nil }
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
    local healed = fl.now()
    load:wait()
    local ended = fl.now()
    fl.expect.eventually(function() return c:converged(0) end,
      { within = 10, name = "every member on the same leader and raft index" })
    local now = c:leader()
    fl.expect.that(now ~= old, string.format("the old leader %s is a follower (leader: %s)",
      old.name, now and now.name or "none"), "the old leader steps down")
    fl.check.linearizable{ model = "kv", history = load }
    local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
    fl.check.recovery{ history = rw, after = "partition", within = 3, name = "reads and writes" }
    local gap, at = util.longest_gap(util.operations(rw), healed, ended)
    util.within{ name = "longest stall after the heal", value = gap, limit = stall_limit,
      message = string.format("no read or write succeeded for %.2f s from %.2f s (%.2f s after "
        .. "the heal)%s", gap, at, at - healed, pre_vote and ", with --pre-vote" or
        ", without --pre-vote (etcd 3.4's default)") }
  end
end

fl.scenario("etcd leader isolated from the majority (netns)", { timeout = 90 },
  isolate_leader(false, 6))
fl.scenario("etcd leader isolated from the majority, --pre-vote (netns)", { timeout = 90 },
  isolate_leader(true, 1.5))
