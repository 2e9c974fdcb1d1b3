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

  Hold (ARGV[2] > 0): a requeued task whose projection names no provider id goes to the
  delayed set, due at ARGV[2], instead of its lane. A worker may hold a checkpoint for it
  that the archive never saw (written just before the wipe, or into the empty Redis);
  workers write such checkpoints again when the epoch marker changes (worker
  checkpoint-keeper.ts), and the hold lets them land before the task can be delivered,
  so the next delivery polls the paid-for id instead of submitting again. The supervisor
  promotes it when due, as any delayed retry. A task already in the delayed set counts as
  backed (a re-run leaves it alone); ZADD/HSET make a repeated hold idempotent anyway.

  KEYS[1 .. L]     the lanes (tasks:<priority>), in keyspace order
  KEYS[L+1]        delayed            sorted set
  KEYS[L+2]        delayed:entries    hash
  KEYS[L+3 ..]     task:<id> of every task of the chunk, in order
  ARGV[1]          L: the number of lanes
  ARGV[2]          hold: due time (epoch ms) of held tasks; '0' = no hold, straight to the lanes
  then, per task:
    ttl            seconds the projection lives ('0' = no TTL)
    lane           1..L: requeue into KEYS[lane]; 0: terminal, no lane entry
    id             proposed lane entry id (`<ms>-<seq>`, deterministic) or '*'; a proposed
                   id at or below the lane's last id (a live writer got there first) becomes '*'
    np, np field/value pairs   the projection (`entryId` is added for a requeued task)
    ne, ne values              the lane entry's field/value list

  Returns  {terminal written, requeued written, skipped, overwritten, adopted, held}
           (held tasks are counted in requeued or adopted too)
]]
local TERMINAL = {solved = true, failed = true, cancelled = true}
local lanes = tonumber(ARGV[1])
local holdUntil = tonumber(ARGV[2])
local DELAYED, DELAYED_ENTRIES = KEYS[lanes + 1], KEYS[lanes + 2]
local terminal, requeued, skipped, overwritten, adopted, held = 0, 0, 0, 0, 0, 0

-- Into the delayed set when held (returns false), else into the lane (returns the entry id).
local function deliver(key, taskId, lane, id, entry, checkpointed)
  if holdUntil > 0 and not checkpointed then
    redis.call('ZADD', DELAYED, holdUntil, taskId)
    redis.call('HSET', DELAYED_ENTRIES, taskId, cjson.encode(entry))
    held = held + 1
    return false
  end
  local added
  if id ~= '*' then
    added = redis.pcall('XADD', KEYS[lane], id, unpack(entry))
    if type(added) == 'table' and added.err then added = nil end
  end
  return added or redis.call('XADD', KEYS[lane], '*', unpack(entry))
end

local function field(list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
  return nil
end

local a = 3
for k = lanes + 3, #KEYS do
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

  local taskId = field(proj, 'task') or string.match(key, 'task:(.*)$')
  local live = redis.call('HMGET', key, 'status', 'entryId', 'providerTaskId')
  local backed = false
  if live[1] and lane > 0 then
    if live[2] then backed = #redis.call('XRANGE', KEYS[lane], live[2], live[2]) > 0 end
    backed = backed or redis.call('ZSCORE', DELAYED, taskId) ~= false
  end
  if not live[1] then
    if lane > 0 then
      local cp = field(proj, 'providerTaskId')
      local entryId = deliver(key, taskId, lane, id, entry, cp ~= nil and cp ~= '')
      if entryId then
        proj[#proj + 1] = 'entryId'
        proj[#proj + 1] = entryId
      end
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
    local cp = redis.call('HGET', key, 'providerTaskId')
    local entryId = deliver(key, taskId, lane, id, entry, cp ~= false and cp ~= '')
    if entryId then redis.call('HSET', key, 'entryId', entryId) else redis.call('HDEL', key, 'entryId') end
    adopted = adopted + 1
  end
end
return {terminal, requeued, skipped, overwritten, adopted, held}
