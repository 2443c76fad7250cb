-- Proxies, and the proxy layer: partitions by name across them.
--
-- A proxy stands for one directed link: `from` reaches `to` through it.
-- fl.partition{ {"n1"}, {"n2", "n3"} } cuts every proxy whose two ends fall
-- in different groups; fl.partition{from = {...}, to = {...}} cuts one way;
-- fl.heal() restores them all. faultline.lua dispatches those calls and
-- fl.expect.isolated to M.layer (the fallback layer: it owns every name).
return function(fl, core, kit)
  local M = {}
  local proxies = {} -- every proxy of the scenario, in creation order
  local cut = nil    -- the current partition: {fault = id, proxies = {...}}

  --- fl.proxy{name=, listen=, upstream=, from=, to=}: a TCP proxy (its
  --- options are checked by core.proxy, harness/lua_proxy.c).
  function M.proxy(spec)
    local p = kit.call(nil, core.proxy, spec)
    proxies[#proxies + 1] = p
    return p
  end

  --- fl.udp_proxy{from=, to=, upstream=}: a UDP link, cut by fl.partition too.
  function M.udp_proxy(spec)
    local p = kit.call(nil, core.udp_proxy, spec)
    proxies[#proxies + 1] = p
    return p
  end

  --- The proxies that stand for the link from a to b (names).
  local function links(an, bn)
    local out = {}
    for _, p in ipairs(proxies) do
      if p.from == an and p.to == bn then out[#out + 1] = p end
    end
    return out
  end

  local layer = { name = "proxy" }
  M.layer = layer

  function layer.owns() return true end

  -- The partition of a spec faultline.lua has checked: plan is {from=, to=}
  -- (names, one way) or {groups = {{names}, ...}}.
  function layer.partition(spec, plan)
    if cut then layer.heal() end
    local chosen = {} -- proxy -> direction
    local targets, attrs
    if plan.from then
      local from, to = {}, {}
      for _, n in ipairs(plan.from) do from[n] = true end
      for _, n in ipairs(plan.to) do to[n] = true end
      for _, p in ipairs(proxies) do
        -- Bytes from a `from` node to a `to` node: its requests on from->to
        -- links, its responses on to->from links.
        if p.from and p.to then
          if from[p.from] and to[p.to] then chosen[p] = "upstream"
          elseif to[p.from] and from[p.to] then chosen[p] = "downstream" end
        end
      end
      targets = {}
      for n in pairs(from) do targets[#targets + 1] = n end
      table.sort(targets)
      local tos = {}
      for n in pairs(to) do tos[#tos + 1] = n end
      table.sort(tos)
      attrs = { from = targets, to = tos, direction = "one-way" }
      for _, n in ipairs(tos) do targets[#targets + 1] = n end
    else
      local group, groups = {}, {}
      for i, g in ipairs(plan.groups) do
        local names = {}
        for _, n in ipairs(g) do
          if not group[n] then names[#names + 1] = n end
          group[n] = i
        end
        table.sort(names)
        groups[i] = names
      end
      for _, p in ipairs(proxies) do
        if p.from and p.to and group[p.from] and group[p.to] and group[p.from] ~= group[p.to] then
          chosen[p] = "both"
        end
      end
      targets = {}
      for _, g in ipairs(groups) do for _, n in ipairs(g) do targets[#targets + 1] = n end end
      attrs = { groups = groups }
    end
    local list = {}
    for p, dir in pairs(chosen) do
      p:partition(dir, true)
      list[#list + 1] = p
    end
    local names = {}
    for _, p in ipairs(list) do names[#names + 1] = p.name end
    table.sort(names)
    attrs.proxies = names
    if #list == 0 then
      kit.misuse("fl.partition: no proxy links these groups (give proxies from= and to=)")
    end
    cut = { fault = core.fault_begin("partition", targets, attrs), proxies = list }
    return cut
  end

  function layer.heal()
    if not cut then return end
    for _, p in ipairs(cut.proxies) do p:heal() end
    core.fault_end(cut.fault)
    cut = nil
  end

  -- fl.expect.isolated(a, b): a cannot reach b through its proxies: bytes
  -- sent on the a -> b link do not arrive. opts are checked already.
  function layer.isolated(an, bn, opts)
    local list = links(an, bn)
    local name = opts.name or string.format("%s isolated from %s", an, bn)
    if #list == 0 then
      kit.fail({ name = name, kind = "isolated", status = "error",
        message = name .. ": no proxy stands for the link " .. an .. " -> " .. bn })
    end
    for _, p in ipairs(list) do
      if not p.add_toxic then goto continue end -- UDP links: no TCP probe
      local isolated, through = core.proxy_probe(p, opts.wait or 0.5)
      if not isolated then
        kit.fail({ name = name, kind = "isolated", status = "fail",
          message = string.format("%s: %d byte(s) reached %s through %s", name, through, bn,
            p.name) })
      end
      ::continue::
    end
    core.record_check({ name = name, kind = "isolated", status = "pass",
      message = string.format("nothing sent on %d link(s) %s -> %s got through", #list, an, bn) })
    return true
  end

  --- fl.expect.http_fired(p, name [, {min=1, max=n, name=}]): the HTTP fault
  --- rule `name` of proxy p faulted between min (default 1) and max requests
  --- (no upper bound unless given); recorded as a check with its counters.
  function fl.expect.http_fired(p, rule, opts)
    opts = fl.options(opts, "fl.expect.http_fired", { "min", "max", "name" })
    if type(p) ~= "userdata" or not p.http_faults then
      kit.misuse("fl.expect.http_fired: a proxy expected as the first argument")
    end
    if type(rule) ~= "string" then
      kit.misuse("fl.expect.http_fired: the rule's name (a string) expected")
    end
    local lo, hi = opts.min or 1, opts.max
    local check = opts.name or string.format("http fault %s on %s fired", rule, p.name)
    local found
    for _, r in ipairs(p:http_faults()) do
      if r.name == rule then found = r end
    end
    if not found then
      kit.fail({ name = check, kind = "http_fired", status = "fail",
        message = string.format("%s: proxy %s has no http fault %s", check, p.name, rule) })
    end
    local n = found.faulted
    local ok = n >= lo and (hi == nil or n <= hi)
    local want = hi and string.format("%d..%d", lo, hi) or string.format(">= %d", lo)
    local msg = string.format("%s: faulted %d of %d matched request(s) (expected %s)",
      check, n, found.matched, want)
    if not ok then
      kit.fail({ name = check, kind = "http_fired", status = "fail", message = msg,
        matched = found.matched, faulted = n })
    end
    core.record_check({ name = check, kind = "http_fired", status = "pass", message = msg,
      matched = found.matched, faulted = n })
    return n
  end

  return M
end
