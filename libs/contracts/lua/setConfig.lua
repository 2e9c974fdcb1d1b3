--[[
  setConfig: appends one version of the runtime config, compare-and-set on the version.

  KEYS[1]  config stream (one entry per version, never trimmed)
  KEYS[2]  control stream (told `config` so instances may react at once)
  ARGV[1]  expected current version (0 = no version yet)
  ARGV[2]  doc: the whole RuntimeConfig as JSON (validated by the caller)
  ARGV[3]  by: who made the change
  ARGV[4]  reason: why (free text)
  ARGV[5]  now (epoch ms)
  ARGV[6]  rollbackOf: the version whose doc this one copies, or ''
  ARGV[7]  approximate MAXLEN of the control stream (0 = never trim)

  Returns {version, entryId} on success, or {-20, currentVersion} when the current
  version is not ARGV[1] (someone else changed it meanwhile: re-read and retry).
]]
-- The current version is the newest entry with a numeric `version` (an entry injected
-- by hand without one is skipped, as readConfig skips it).
local recent = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 100)
local current = 0
for _, e in ipairs(recent) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'version' and tonumber(f[i + 1]) then current = tonumber(f[i + 1]) end
  end
  if current > 0 then break end
end
if current ~= tonumber(ARGV[1]) then return {-20, current} end

local version = current + 1
local fields = {'v', '1', 'version', tostring(version), 'doc', ARGV[2], 'by', ARGV[3], 'reason', ARGV[4], 'at', ARGV[5]}
if ARGV[6] ~= '' then
  fields[#fields + 1] = 'rollbackOf'
  fields[#fields + 1] = ARGV[6]
end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
xadd(KEYS[2], tonumber(ARGV[7]), {'v', '1', 'kind', 'config', 'version', tostring(version), 'by', ARGV[3], 'at', ARGV[5]})
return {version, id}
