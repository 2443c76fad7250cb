-- Expected finding: PostgreSQL 15's REPEATABLE READ is snapshot isolation,
-- which allows write skew (G2-item) and nothing worse.
--
-- The run of serializable.lua at REPEATABLE READ (lib/postgres.lua:
-- txn_under_faults). Checks:
--   * the history satisfies snapshot isolation: an anomaly SI forbids (G0,
--     G1a/b/c, G-single, internal, duplicates, garbage) fails the check;
--     G2-item is counted as a finding;
--   * write skew (G2-item) was found: the pack tells this level apart from
--     SERIALIZABLE (fails when none shows);
--   * enough transactions committed.
local fl = require("faultline")
local pg = require("faultline.lib.postgres")
local util = require("faultline.lib.util")

fl.scenario("postgres REPEATABLE READ allows write skew, nothing worse", { timeout = 90 },
  function()
  local w = pg.txn_under_faults{ isolation = "repeatable-read" }
  local r = fl.check.transactions{ model = "list-append", consistency = "snapshot-isolation",
    history = w, name = "REPEATABLE READ: snapshot isolation (list-append)" }
  local n = r and r.counts and r.counts["G2-item"] or 0
  util.finding{ name = "REPEATABLE READ shows write skew (G2-item)", found = n > 0,
    message = string.format("%d G2-item cycle(s)", n), figures = { count = n } }
  util.check("transactions committed", w.counts.ok >= 50, string.format(
    "%d committed, %d failed, %d indeterminate", w.counts.ok, w.counts.fail, w.counts.info))
end)
