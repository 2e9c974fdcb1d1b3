--[[
  promoteTask — a delayed retry is due: move it from the delayed set back to its lane.
  Runs whether or not new tasks arrive (the supervisor calls it on a timer), so a
  retry is never stuck waiting for traffic (BullMQ #2534). Several supervisors may race:
  only the one whose ZREM succeeds adds the entry.

  KEYS[1]  delayed            sorted set (member task id, score due ms)
  KEYS[2]  delayed:entries    hash task id → JSON field list of the entry
  KEYS[3]  tasks:<priority>   the lane named by ARGV[3]
  KEYS[4]  task:<id>          projection
  KEYS[5]  events             stream
  KEYS[6]  dead-letter        stream (a body that does not decode or names no known lane)
  ARGV[1]  task id   ARGV[2]  now, epoch ms   ARGV[3]  priority of KEYS[3]   ARGV[4]  events MAXLEN

  Returns  {1, entryId}  promoted
           {0}           not due, or already promoted by someone else
           {-2}          the entry body is missing (dropped from the set)
           {-5}          the entry's priority is not ARGV[3] (caller passed the wrong lane)
           {3, status}   the task already has its outcome (e.g. cancelled): dropped
           {4, dlId}     the body is poison (not field/value strings, or no known priority):
                         moved to dead-letter (kind poison) with a `dead-lettered` event; the
                         task's projection is left to the expiry sweep, as for a poison entry
]]
local taskId, now, priority, eventsMax = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local score = redis.call('ZSCORE', KEYS[1], taskId)
if not score or tonumber(score) > now then return {0} end
local raw = redis.call('HGET', KEYS[2], taskId)
if not raw then
  redis.call('ZREM', KEYS[1], taskId)
  return {-2}
end
-- A body that does not decode into field/value strings, or names no lane, can never be
-- delivered: it is dead-lettered here (kind poison) instead of failing every pass.
local ok, fields = pcall(cjson.decode, raw)
local entryPriority, why
if not ok or type(fields) ~= 'table' or #fields % 2 ~= 0 then
  why = 'delayed body does not decode into field/value pairs'
else
  for i = 1, #fields do
    if type(fields[i]) ~= 'string' then why = 'delayed body has a non-string item at ' .. i break end
    if i % 2 == 1 and fields[i] == 'priority' then entryPriority = fields[i + 1] end
  end
  if not why and not ({critical = true, high = true, normal = true, low = true})[entryPriority] then
    why = 'delayed body names no known priority: ' .. tostring(entryPriority)
  end
end
if why then
  redis.call('ZREM', KEYS[1], taskId)
  redis.call('HDEL', KEYS[2], taskId)
  local status = redis.call('HGET', KEYS[4], 'status')
  if TERMINAL[status] then return {3, status} end
  local dl = redis.call('XADD', KEYS[6], '*', 'v', '1', 'kind', 'poison', 'task', taskId, 'stream', KEYS[1],
    'entry', '', 'reason', why, 'consumer', '', 'at', ARGV[2], 'raw', raw)
  appendEvent(KEYS[5], eventsMax, taskId, 'dead-lettered', ARGV[2], {'reason', why, 'deadLetter', dl})
  return {4, dl}
end
if entryPriority ~= priority then return {-5} end

redis.call('ZREM', KEYS[1], taskId)
redis.call('HDEL', KEYS[2], taskId)
local status = redis.call('HGET', KEYS[4], 'status')
if TERMINAL[status] then return {3, status} end

if not status then rebuildProjection(KEYS[4], taskId, ARGV[2], fields) end
local entryId = redis.call('XADD', KEYS[3], '*', unpack(fields))
-- entryId names the delivery that now backs the task (a restore re-run leaves it alone).
redis.call('HSET', KEYS[4], 'entryId', entryId, 'updatedAt', ARGV[2])
appendEvent(KEYS[5], eventsMax, taskId, 'promoted', ARGV[2], {'entry', entryId})
return {1, entryId}
