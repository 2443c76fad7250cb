-- Proxies, and partitions by name across them.
--
-- A proxy stands for one directed link: `from` reaches `to` through it.
-- fl.partition{ {"n1"}, {"n2", "n3"} } cuts every proxy whose two ends fall
-- in different groups; fl.partition{from = {...}, to = {...}} cuts one way;
-- fl.heal() restores them all.
return function(fl, core)
  local M = {}
  local proxies = {} -- every proxy of the scenario, in creation order
  local cut = nil    -- the current partition: {fault = id, proxies = {...}}

  local function name_of(x)
    if type(x) == "string" then return x end
    if type(x) == "table" and type(x.name) == "string" then return x.name end
    local ok, n = pcall(function() return x.name end)
    if ok and type(n) == "string" then return n end
    error("fl.partition: a group member must be a service or a name, not " .. tostring(x), 4)
  end

  local function set_of(list)
    local s = {}
    if type(list) ~= "table" or (getmetatable(list) and list.name) then list = { list } end
    for _, x in ipairs(list) do s[name_of(x)] = true end
    return s
  end

  function M.proxy(spec)
    local p = core.proxy(spec)
    proxies[#proxies + 1] = p
    return p
  end

  --- fl.udp_proxy{from=, to=, upstream=}: a UDP link, cut by fl.partition too.
  function M.udp_proxy(spec)
    local p = core.udp_proxy(spec)
    proxies[#proxies + 1] = p
    return p
  end

  --- The proxies that stand for the link from a to b (names or services).
  function M.links(a, b)
    local out = {}
    local an, bn = name_of(a), name_of(b)
    for _, p in ipairs(proxies) do
      if p.from == an and p.to == bn then out[#out + 1] = p end
    end
    return out
  end

  function M.partition(spec)
    if type(spec) ~= "table" then error("fl.partition: a table of groups expected", 2) end
    if cut then M.heal() end
    local chosen = {} -- proxy -> direction
    local targets, attrs
    if spec.from or spec.to then
      for k in pairs(spec) do
        if k ~= "from" and k ~= "to" then
          error("fl.partition: unknown option '" .. tostring(k) .. "' (known: from, to)", 2)
        end
      end
      local from, to = set_of(spec.from or {}), set_of(spec.to or {})
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
      local group = {}
      local groups = {}
      for i, g in ipairs(spec) do
        local names = {}
        for n in pairs(set_of(g)) do
          if group[n] then error("fl.partition: " .. n .. " is in two groups", 2) end
          group[n] = i
          names[#names + 1] = n
        end
        table.sort(names)
        groups[i] = names
      end
      for k in pairs(spec) do
        if type(k) ~= "number" then
          error("fl.partition: unknown option '" .. tostring(k) .. "'", 2)
        end
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
      error("fl.partition: no proxy links these groups (give proxies from= and to=)", 2)
    end
    cut = { fault = core.fault_begin("partition", targets, attrs), proxies = list }
    return cut
  end

  function M.heal()
    if not cut then return end
    for _, p in ipairs(cut.proxies) do p:heal() end
    core.fault_end(cut.fault)
    cut = nil
  end

  --- fl.expect.isolated(a, b): a cannot reach b through its proxies: bytes
  --- sent on the a -> b link do not arrive. Recorded as a check.
  function M.isolated(a, b, opts)
    local an, bn = name_of(a), name_of(b)
    local links = M.links(an, bn)
    local name = (opts and opts.name) or string.format("%s isolated from %s", an, bn)
    if #links == 0 then
      core.record_check({ name = name, kind = "isolated", status = "error",
        message = "no proxy stands for the link " .. an .. " -> " .. bn })
      error({ fl_failure = true, message = name .. ": no proxy for the link" }, 0)
    end
    for _, p in ipairs(links) do
      if not p.add_toxic then goto continue end -- UDP links: no TCP probe
      local isolated, through = core.proxy_probe(p, opts and opts.wait or 0.5)
      if not isolated then
        local msg = string.format("%s: %d byte(s) reached %s through %s", name, through, bn, p.name)
        core.record_check({ name = name, kind = "isolated", status = "fail", message = msg })
        error({ fl_failure = true, message = msg }, 0)
      end
      ::continue::
    end
    core.record_check({ name = name, kind = "isolated", status = "pass",
      message = string.format("nothing sent on %d link(s) %s -> %s got through", #links, an, bn) })
    return true
  end

  return M
end
