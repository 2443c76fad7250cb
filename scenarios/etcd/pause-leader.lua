-- etcd: the leader paused (SIGSTOP) longer than the election timeout, then
-- resumed.
--
-- Three members (election timeout 1 s), nine clients on four keys. The
-- leader is paused for 4 s; the other two must elect a new leader while it
-- is frozen. When it resumes it still thinks it leads, until it hears the
-- higher term and steps down. Checks:
--   * a new leader among the other two within 4 s of the pause (measured:
--     about 1.1-1.5 s: the election timeout plus a randomized wait);
--   * the history is linearizable (the paused leader's clients wait on it:
--     their requests time out as indeterminate, which the checker allows);
--   * clients succeed again within 3 s of the resume, and do not stall
--     again: no gap over 2 s without a success (measured: ~0.1 s);
--   * after the writes stop every member agrees on one leader and raft index
--     within 10 s, and the resumed member is a follower.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

fl.scenario("etcd leader paused past the election timeout", { timeout = 90 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = 13,
                            ops = etcd.register_ops{ cluster = c, keys = 4 } }
  fl.sleep(3)
  local old = c:wait_leader(5, nil, "a leader before the fault")
  local t = fl.now()
  old:pause()
  c:wait_leader(4, c:others(old), "a new leader while the old one is paused")
  fl.sleep(math.max(0, 4 - (fl.now() - t)))
  old:resume()
  local healed = fl.now()
  load:wait()
  local ended = fl.now()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  local now = c:leader()
  fl.expect.that(now ~= old, string.format("the resumed member %s is a follower (leader: %s)",
    old.name, now and now.name or "none"), "the resumed old leader steps down")
  fl.check.linearizable{ model = "kv", history = load }
  -- A cas whose comparison failed is an answer: recovery counts reads and writes.
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.recovery{ history = rw, after = "pause", within = 3, name = "reads and writes" }
  local gap, at = util.longest_gap(util.operations(rw), healed, ended)
  util.within{ name = "longest stall after the fault", value = gap, limit = 2,
    message = string.format("no read or write succeeded for %.2f s from %.2f s", gap, at) }
end)
