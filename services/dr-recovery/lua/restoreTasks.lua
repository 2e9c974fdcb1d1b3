--[[
  restoreTasks — writes one chunk of restored tasks (restore.ts), atomically: per task
  its projection (+ TTL) and, for a task without an outcome, its requeued lane entry.
  A task whose projection already exists (written by live services after the wipe, or
  by an earlier restore that was interrupted) is left alone, so a restore can be re-run.

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

  Returns  {terminal written, requeued written, skipped (projection existed)}
]]
local lanes = tonumber(ARGV[1])
local terminal, requeued, skipped = 0, 0, 0
local a = 2
for k = lanes + 1, #KEYS do
  local ttl, lane, id = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  local np = tonumber(ARGV[a + 3])
  local proj = {}
  for i = a + 4, a + 3 + 2 * np do proj[#proj + 1] = ARGV[i] end
  a = a + 4 + 2 * np
  local ne = tonumber(ARGV[a])
  local entry = {}
  for i = a + 1, a + ne do entry[#entry + 1] = ARGV[i] end
  a = a + 1 + ne

  if redis.call('EXISTS', KEYS[k]) == 1 then
    skipped = skipped + 1
  else
    if lane > 0 then
      local added
      if id ~= '*' then
        added = redis.pcall('XADD', KEYS[lane], id, unpack(entry))
        if type(added) == 'table' and added.err then added = nil end
      end
      if not added then added = redis.call('XADD', KEYS[lane], '*', unpack(entry)) end
      proj[#proj + 1] = 'entryId'
      proj[#proj + 1] = added
      requeued = requeued + 1
    else
      terminal = terminal + 1
    end
    redis.call('HSET', KEYS[k], unpack(proj))
    if ttl > 0 then redis.call('EXPIRE', KEYS[k], ttl) end
  end
end
return {terminal, requeued, skipped}
