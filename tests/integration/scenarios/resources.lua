-- Resource faults and resource use (tests/integration/service_resources.sh):
-- a busy loop under svc:cpu{quota = 0.2}, a process that allocates past
-- svc:memory{max = ...} (killed by the OOM killer: a crash), fl.heal()
-- lifting a quota, and one fl.nemesis draw of a cpu fault. FL_RES_TAG
-- makes the service names unique to this test's run.
local fl = require("faultline")
local tag = os.getenv("FL_RES_TAG") or "t"

local function quota_file(name)
  local p = io.popen("cat /sys/fs/cgroup/cpu/faultline-*/" .. name .. "/cpu.cfs_quota_us "
    .. "/sys/fs/cgroup/faultline-*/" .. name .. "/cpu.max 2>/dev/null")
  local s = p:read("a")
  p:close()
  return (s:gsub("%s+$", ""))
end

fl.scenario("resources", { timeout = 40 }, function()
  local busy = fl.service{ name = "busy-" .. tag, cmd = { "sh", "-c", "while :; do :; done" } }
  -- perl (always there on Debian, and quick to start even on a loaded
  -- machine): 1 MiB more every 20 ms (the sampler sees it grow), written so
  -- it is resident
  local hog = fl.service{ name = "hog-" .. tag, cmd = { "perl", "-e",
    '$| = 1; my $s = ""; while (1) { $s .= "x" x 1048576; '
    .. 'print length($s) >> 20, " MiB\\n" if length($s) % (8 << 20) == 0; '
    .. 'select(undef, undef, undef, 0.02) }' } }
  busy:start()
  fl.sleep(1.0)
  busy:cpu{ quota = 0.2 }
  print("quota set: " .. quota_file(busy.name))
  fl.sleep(3.0)
  busy:cpu()
  print("quota lifted: " .. quota_file(busy.name))

  hog:memory{ max = "48M" }
  hog:start()
  for _ = 1, 200 do
    if not hog:alive() then break end
    fl.sleep(0.1)
  end
  print("hog alive after the limit: " .. tostring(hog:alive()))

  -- fl.heal() lifts a quota as it ends a partition
  busy:cpu{ quota = 0.5 }
  fl.heal()
  print("after fl.heal: " .. quota_file(busy.name))

  -- one nemesis draw of a cpu fault on busy
  local nem = fl.nemesis{ targets = { busy }, faults = { "cpu" }, target = "one",
                          duration = 0.5, calm = 0.1, window = 0.3 }
  nem:wait()
  print("after the nemesis: " .. quota_file(busy.name))
end)
