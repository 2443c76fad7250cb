-- Expected finding: PostgreSQL 15's READ COMMITTED allows read skew
-- (G-single) and write skew (G2-item), and nothing read committed forbids.
--
-- The run of serializable.lua at READ COMMITTED (lib/postgres.lua:
-- txn_under_faults; no key is read twice in a transaction, since each
-- statement has its own snapshot). Checks:
--   * the history satisfies read committed: G0, G1a, G1b, G1c, internal,
--     duplicates or garbage fail the check; G-single and G2-item are
--     counted as findings;
--   * G-single or G2-item was found: the pack tells this level apart from
--     the others (fails when none shows);
--   * enough transactions committed.
local fl = require("faultline")
local pg = require("faultline.lib.postgres")
local util = require("faultline.lib.util")

fl.scenario("postgres READ COMMITTED allows read and write skew, nothing worse",
  { timeout = 90 }, function()
  local w = pg.txn_under_faults{ isolation = "read-committed" }
  local r = fl.check.transactions{ model = "list-append", consistency = "read-committed",
    history = w, name = "READ COMMITTED: read committed (list-append)" }
  local counts = r and r.counts or {}
  local single, skew = counts["G-single"] or 0, counts["G2-item"] or 0
  util.finding{ name = "READ COMMITTED shows read or write skew (G-single, G2-item)",
    found = single + skew > 0,
    message = string.format("%d G-single, %d G2-item", single, skew),
    figures = { count = single + skew, g_single = single, g2_item = skew } }
  util.check("transactions committed", w.counts.ok >= 50, string.format(
    "%d committed, %d failed, %d indeterminate", w.counts.ok, w.counts.fail, w.counts.info))
end)
