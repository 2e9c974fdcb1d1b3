--[[
  restoreStream — the last, atomic step of restoring one history stream (restore.ts).
  restore.ts first writes every archived entry of the stream, with its original id and
  in id order, to a staging stream, in chunks. This script then puts the staging stream
  in the live one's place, after appending to it every live entry newer than the
  archive (written by live services after the wipe), and recreates the consumer groups.
  One call, so live writers never see a half-restored stream and never make the restore
  retry (a WATCH + MULTI of the whole history aborted on every live write under load).

  KEYS[1]  the stream (events, results, dead-letter, control, alerts, config)
  KEYS[2]  its staging stream (dr:staging:<name>); absent when the archive holds no entry
  ARGV[1]  newest archived id of the stream ('0-0' when none); live entries at or below
           it are copies of archived ones (restore.ts checks that) and are dropped
  ARGV[2]  n: the number of archived group positions that follow
  ARGV[3 .. 2+2n]  group name, last-delivered id; a live group of the same name keeps
           its live position (its pending entries are not carried over)

  Returns  the number of live entries kept behind the archived ones
]]
local key, staging, last = KEYS[1], KEYS[2], ARGV[1]
local position, names = {}, {}
local function group(name, id)
  if position[name] == nil then names[#names + 1] = name end
  position[name] = id
end
for i = 3, 2 + 2 * tonumber(ARGV[2]), 2 do group(ARGV[i], ARGV[i + 1]) end

local kept = 0
if redis.call('EXISTS', key) == 1 then
  for _, row in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local g = {}
    for j = 1, #row, 2 do g[row[j]] = row[j + 1] end
    group(g['name'], g['last-delivered-id'])
  end
  local start = '(' .. last
  while true do
    local batch = redis.call('XRANGE', key, start, '+', 'COUNT', 1000)
    if #batch == 0 then break end
    for _, e in ipairs(batch) do
      redis.call('XADD', staging, e[1], unpack(e[2]))
      kept = kept + 1
    end
    start = '(' .. batch[#batch][1]
  end
end

if redis.call('EXISTS', staging) == 1 then
  redis.call('RENAME', staging, key)
else
  redis.call('DEL', key)
end
for _, name in ipairs(names) do
  redis.call('XGROUP', 'CREATE', key, name, position[name], 'MKSTREAM')
end
return kept
