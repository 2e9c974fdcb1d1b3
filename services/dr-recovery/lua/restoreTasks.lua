--[[
  restoreTasks — writes one chunk of restored tasks (restore.ts), atomically: per task its
  projection (+ TTL) and, for a task without an outcome, its requeued lane entry.

  A projection that already exists was written after the wipe, or by an earlier restore
  that was interrupted (so a restore can be re-run). It is:
    - left alone when it is terminal, or when its `entryId` is still in its lane (a live
      delivery, or this restore's own entry on a re-run): `skipped`;
    - for a task the archive knows as finished but that is not terminal live (a worker
      claimed a stale delivery into the wiped Redis and rebuilt the projection): replaced
      by the archived, terminal one, so that worker's late result is a duplicate and
      never published: `overwritten`;
    - for a task the archive knows as unfinished whose live projection no delivery backs
      (the same rebuild by a worker, which then lost the entry's lease and let go): given
      the requeued entry, and every archived field it lacks (the checkpoint above all):
      `adopted`. Without this the task stays `active` with nothing to deliver it.

  KEYS[1 .. L]     the lanes (tasks:<priority>), in keyspace order
  KEYS[L+1 ..]     task:<id> of every task of the chunk, in order
  ARGV[1]          L: the number of lanes
  then, per task:
    ttl            seconds the projection lives ('0' = no TTL)
    lane           1..L: requeue into KEYS[lane]; 0: terminal, no lane entry
    id             proposed lane entry id (`<ms>-<seq>`, deterministic) or '*'; a proposed
                   id at or below the lane's last id (a live writer got there first) becomes '*'
    np, np field/value pairs   the projection (`entryId` is added for a requeued task)
    ne, ne values              the lane entry's field/value list

  Returns  {terminal written, requeued written, skipped, overwritten, adopted}
]]
local TERMINAL = {solved = true, failed = true, cancelled = true}
local lanes = tonumber(ARGV[1])
local terminal, requeued, skipped, overwritten, adopted = 0, 0, 0, 0, 0

local function requeue(lane, id, entry)
  local added
  if id ~= '*' then
    added = redis.pcall('XADD', KEYS[lane], id, unpack(entry))
    if type(added) == 'table' and added.err then added = nil end
  end
  return added or redis.call('XADD', KEYS[lane], '*', unpack(entry))
end

local a = 2
for k = lanes + 1, #KEYS do
  local key = KEYS[k]
  local ttl, lane, id = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local np = tonumber(ARGV[a + 3])
  local proj = {}
  for i = a + 4, a + 3 + 2 * np do proj[#proj + 1] = ARGV[i] end
  a = a + 4 + 2 * np
  local ne = tonumber(ARGV[a])
  local entry = {}
  for i = a + 1, a + ne do entry[#entry + 1] = ARGV[i] end
  a = a + 1 + ne

  local live = redis.call('HMGET', key, 'status', 'entryId')
  local backed = false
  if live[1] and lane > 0 and live[2] then
    backed = #redis.call('XRANGE', KEYS[lane], live[2], live[2]) > 0
  end
  if not live[1] then
    if lane > 0 then
      proj[#proj + 1] = 'entryId'
      proj[#proj + 1] = requeue(lane, id, entry)
      requeued = requeued + 1
    else
      terminal = terminal + 1
    end
    redis.call('HSET', key, unpack(proj))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  elseif TERMINAL[live[1]] or backed then
    skipped = skipped + 1
  elseif lane == 0 then
    redis.call('DEL', key)
    redis.call('HSET', key, unpack(proj))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    overwritten = overwritten + 1
  else
    for i = 1, #proj, 2 do redis.call('HSETNX', key, proj[i], proj[i + 1]) end
    redis.call('HSET', key, 'entryId', requeue(lane, id, entry))
    adopted = adopted + 1
  end
end
return {terminal, requeued, skipped, overwritten, adopted}
