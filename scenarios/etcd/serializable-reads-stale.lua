-- Expected finding (network namespaces): etcd's serializable reads are not
-- linearizable. A serializable range is answered by the member from its own
-- copy, without asking the leader; a leader cut off from the majority keeps
-- answering them while the majority elects a new leader and moves on.
--
-- The same fault as partition-leader.lua (the leader isolated for 5 s), with
-- every read made serializable. fl.check.linearizable's checker finds a
-- stale read (a read that returns a value already overwritten by a write
-- that completed before the read began); the check passes because that
-- anomaly was expected and found, and shows the read and the write it
-- missed. This is the negative control for the etcd pack: the same pipeline
-- (client, proxy or namespace faults, checker) that passes etcd's
-- linearizable reads catches the stale ones.
--
-- Needs fl.network{mode = "netns"} (root, Linux, nftables); skipped with a
-- message otherwise.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

fl.scenario("etcd serializable reads go stale on an isolated leader (netns)",
            { timeout = 90 }, function()
  local net, why = util.netns()
  if not net then
    fl.log("SKIPPED: %s; etcd cannot be partitioned pairwise through proxies", why)
    return
  end
  local c = etcd.cluster{ nodes = 3, network = net }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = 12,
                            ops = etcd.register_ops{ cluster = c, keys = 4, serializable = true } }
  fl.sleep(3)
  local old = c:wait_leader(5, nil, "a leader before the fault")
  local rest = c:others(old)
  fl.partition{ { old }, rest }
  c:wait_leader(5, rest, "the majority elects a new leader")
  fl.sleep(4)
  fl.heal()
  load:wait()
  util.finds_nonlinearizable{ model = "kv", history = load,
    name = "serializable reads are stale (expected)" }
end)
