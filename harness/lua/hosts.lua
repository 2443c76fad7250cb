-- Remote hosts (issue 16): fl.hosts{...} names the hosts a scenario file
-- runs with when the command line gives no `--hosts FILE` (--hosts wins),
-- and fl.hosts() lists the hosts of the run (harness/lua_hosts.c).
return function(fl, core, kit)
  local M = {}

  --- fl.hosts{ {name =, address =, user =, port =, identity =, sudo =,
  --- known_hosts =}, ... }: the file's hosts (at its top level, once).
  --- fl.hosts(): the run's hosts, a list of such tables ({} when none).
  function M.hosts(list)
    if list == nil then return core.hosts_list() end
    -- Through kit.call: an error belongs at the scenario's line.
    return kit.call(nil, core.hosts_set, list)
  end

  return M
end
