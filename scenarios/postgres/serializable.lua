-- Must pass: PostgreSQL 15 at SERIALIZABLE under faults gives serializable
-- list-append transactions (Elle's inference, fl.check.transactions).
--
-- One server (initdb under the run directory, user postgres as root), six
-- clients through a proxy, each running transactions of 2-4 reads and
-- appends over six keys (lib/postgres.lua: one row per key, an append is
-- an upsert). Faults, one after another with 1.5 s of calm between:
-- kill -9 and restart, pause 0.7 s, 50 ms latency on the clients' link for
-- 1 s, the link partitioned 0.7 s. Checks:
--   * the history is serializable: no G0, G1, G-single or G2-item, no
--     internal, duplicate or garbage read (a serialization failure is a
--     failed transaction; a lost COMMIT is indeterminate);
--   * enough transactions committed for that to mean something.
local fl = require("faultline")
local pg = require("faultline.lib.postgres")
local util = require("faultline.lib.util")

fl.scenario("postgres SERIALIZABLE is serializable under faults", { timeout = 90 }, function()
  local w = pg.txn_under_faults{ isolation = "serializable" }
  fl.check.transactions{ model = "list-append", consistency = "serializable", history = w,
    name = "SERIALIZABLE: serializable (list-append)" }
  util.check("transactions committed", w.counts.ok >= 50, string.format(
    "%d committed, %d failed (serialization failures, faults), %d indeterminate",
    w.counts.ok, w.counts.fail, w.counts.info))
end)
