-- Resource faults (svc:cpu{quota=}, svc:memory{max=}, harness/lua_service.c)
-- are faults like the others, so fl.heal() lifts them too: this module is a
-- fault layer that owns no member (partitions and isolation probes are the
-- other layers' business) and whose heal() lifts every CPU quota and memory
-- limit a service of the scenario has on.
return function(fl, core, kit)
  local M = {}
  local services = {}
  local service_new = fl.service
  function M.service(spec)
    local s = service_new(spec)
    services[#services + 1] = s
    return s
  end
  fl.service = M.service

  M.layer = {
    name = "resources",
    owns = function() return false end,
    heal = function()
      for _, s in ipairs(services) do
        if s:_limited() then
          s:cpu()
          s:memory()
        end
      end
    end,
  }
  return M
end
