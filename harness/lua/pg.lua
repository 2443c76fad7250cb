-- fl.pg: a PostgreSQL client on the event loop (harness/lua_pg.c), and what
-- a client mapping needs to turn its errors into history outcomes.
return function(fl, core, kit)
  local M = { pg = {} }

  -- The C call itself: no Lua frame between it and the scenario, so its
  -- errors carry the scenario's line.
  M.pg.connect = core.pg_connect

  -- The error kinds after which the statement surely had no effect.
  local definite = { serialization = true, deadlock = true, sql = true, connect = true,
    closed = true }

  --- fl.pg.definite(kind) -> boolean: true when an error of this kind
  --- (conn:query's third value) means the statement surely had no effect,
  --- false when it may have (a lost connection, a timeout, the server
  --- ending the session).
  function M.pg.definite(kind)
    if type(kind) ~= "string" then kit.misuse("fl.pg.definite: an error kind (a string) expected") end
    return definite[kind] == true
  end
  return M
end
