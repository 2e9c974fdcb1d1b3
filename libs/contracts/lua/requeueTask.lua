--[[
  requeueTask — give a task another delivery, or dead-letter it when it has failed too
  often. One atomic step for three callers:

    mode 'reclaim'   supervisor: the entry sat idle past its lease (dead or frozen worker);
                     counts as a failure; requeued at once — or, when the task was claimed
                     (`active`) and has no provider checkpoint, held in the delayed set
                     until ARGV[9] (see below)
    mode 'handback'  worker drain: the worker stops and hands its task back; not a failure;
                     requeued at once
    mode 'retry'     worker: a transient failure (provider busy, network); counts as a
                     failure; requeued through the delayed set at ARGV[9]

  The old entry is acked and deleted; the new entry carries attempt+1 and the provider
  checkpoint from the projection, so the next worker polls the provider's existing id
  instead of paying for a new solve. The caller must own the pending entry (it read or
  claimed it); a stale caller gets NOT_PENDING / NOT_OWNER and changes nothing.

  When failures reach ARGV[8]: dead-letter entry with the attempt history, a failed
  result (the client always gets a final answer), projection failed, events
  dead-lettered + failed.

  KEYS[1]  tasks:<priority>   lane holding the entry (and receiving the new one)
  KEYS[2]  task:<id>          projection
  KEYS[3]  events             stream
  KEYS[4]  results            stream
  KEYS[5]  dead-letter        stream
  KEYS[6]  delayed            sorted set
  KEYS[7]  delayed:entries    hash
  KEYS[8]  open:<tenant>      the task's tenant's open tasks (sorted set): a dead-lettered
                              task leaves it here, as completeTask's outcomes do
  ARGV[1]  task id            ARGV[2]  lane entry id      ARGV[3]  consumer group
  ARGV[4]  caller's consumer name (must own the entry)    ARGV[5]  now, epoch ms
  ARGV[6]  mode: reclaim | handback | retry               ARGV[7]  reason (text)
  ARGV[8]  max failures before dead-letter                ARGV[9]  due time for 'retry', epoch ms;
           for 'reclaim', hold-until for a claimed task without a checkpoint (<= now: no hold)
  ARGV[10] events MAXLEN      ARGV[11] results MAXLEN     ARGV[12] projection TTL after outcome, s
  ARGV[13] error code to report when dead-lettered
  ARGV[14 ..] field/value pairs of the next entry (attempt already incremented, no checkpoint)

  Why the reclaim hold: a stalled worker may have sent the provider submit just before it
  froze, the request accepted upstream and its checkpoint not yet written. If it wakes
  within the hold, its checkpoint write is refused as stale, but it keeps the provider id
  and writes it onto the task (checkpointTask in reassert mode: only where the task names
  no provider id yet) within a second; the next delivery then polls that id instead of
  paying again. Without the hold that delivery has submitted long before. A dead worker
  never writes it: its tasks only start the hold later. A task still `queued` (read but
  never claimed) cannot have been submitted and is requeued at once.

  Returns  {1, newEntryId}   requeued now ('reclaim', 'handback')
           {1, 'delayed'}    scheduled ('retry', or a held 'reclaim')
           {2, deadLetterId} failed too often: dead-lettered, failed result published
           {0, status}       task already has its outcome: entry acked and deleted
           {-3}              NOT_PENDING: the entry is no longer pending (someone handled it)
           {-4}              NOT_OWNER: another consumer holds the entry now
]]
local taskId, entryId, group, consumer, now, mode, reason =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local maxFailures, dueAt = tonumber(ARGV[8]), ARGV[9]
local eventsMax, resultsMax, ttl, errorCode = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]

local function event(name, ...)
  return appendEvent(KEYS[3], eventsMax, taskId, name, now, {...})
end
local function ackAndDelete()
  redis.call('XACK', KEYS[1], group, entryId)
  redis.call('XDEL', KEYS[1], entryId)
end

local pending = redis.call('XPENDING', KEYS[1], group, entryId, entryId, 1)
if #pending == 0 then return {-3} end
if pending[1][2] ~= consumer then return {-4} end

local status = redis.call('HGET', KEYS[2], 'status')
if TERMINAL[status] then
  ackAndDelete()
  return {0, status}
end

local entry, nextAttempt, tenant, ttype = {}, '1', '', ''
for i = 14, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  if f ~= 'checkpoint' then
    entry[#entry + 1] = f
    entry[#entry + 1] = v
  end
  if f == 'attempt' then nextAttempt = v end
  if f == 'tenant' then tenant = v end
  if f == 'type' then ttype = v end
end

if not status then rebuildProjection(KEYS[2], taskId, now, entry) end
local failures = tonumber(redis.call('HGET', KEYS[2], 'failures') or '0')
if mode ~= 'handback' then failures = failures + 1 end
local history = cjson.decode(redis.call('HGET', KEYS[2], 'history') or '[]')
history[#history + 1] = {attempt = tonumber(nextAttempt) - 1, mode = mode, reason = reason, at = tonumber(now), consumer = consumer}
while #history > 50 do table.remove(history, 1) end
local historyJson = cjson.encode(history)

local cp = redis.call('HMGET', KEYS[2], 'provider', 'providerTaskId', 'providerSubmittedAt')

if mode ~= 'handback' and failures >= maxFailures then
  local dl = redis.call('XADD', KEYS[5], '*', 'v', '1', 'kind', 'exhausted', 'task', taskId, 'stream', KEYS[1],
    'entry', entryId, 'reason', reason, 'errorCode', errorCode, 'failures', tostring(failures), 'at', now,
    'history', historyJson, 'raw', cjson.encode(entry))
  local message = 'gave up after ' .. failures .. ' failed deliveries: ' .. reason
  local result = {'v', '1', 'task', taskId, 'outcome', 'failed', 'tenant', tenant, 'type', ttype,
    'attempt', tostring(tonumber(nextAttempt) - 1), 'completedAt', now, 'errorCode', errorCode,
    'errorMessage', message}
  if cp[1] then result[#result + 1] = 'provider'; result[#result + 1] = cp[1] end
  if cp[2] then result[#result + 1] = 'providerTaskId'; result[#result + 1] = cp[2] end
  local resultId = xadd(KEYS[4], resultsMax, result)
  redis.call('HSET', KEYS[2], 'status', 'failed', 'resultId', resultId, 'updatedAt', now, 'completedAt', now,
    'errorCode', errorCode, 'errorMessage', message, 'failures', tostring(failures), 'history', historyJson,
    'deadLetter', dl)
  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
  event('dead-lettered', 'reason', reason, 'deadLetter', dl, 'failures', tostring(failures))
  event('failed', 'attempt', tostring(tonumber(nextAttempt) - 1), 'result', resultId, 'errorCode', errorCode)
  redis.call('ZREM', KEYS[8], taskId)
  ackAndDelete()
  return {2, dl}
end

if cp[2] then
  entry[#entry + 1] = 'checkpoint'
  entry[#entry + 1] = cjson.encode({provider = cp[1], providerTaskId = cp[2], at = tonumber(cp[3] or now)})
end
redis.call('HSET', KEYS[2], 'status', 'queued', 'attempt', nextAttempt, 'failures', tostring(failures),
  'history', historyJson, 'updatedAt', now)
ackAndDelete()
-- Through the delayed set (promoted by the supervisor when due): a retry's backoff, or
-- the reclaim hold of a claimed task without a checkpoint.
local held = mode == 'reclaim' and status == 'active' and not cp[2] and tonumber(dueAt) > tonumber(now)
if mode == 'retry' or held then
  redis.call('ZADD', KEYS[6], dueAt, taskId)
  redis.call('HSET', KEYS[7], taskId, cjson.encode(entry))
  if held then
    event('reclaimed', 'attempt', nextAttempt, 'reason', reason, 'entry', '', 'heldUntil', dueAt, 'consumer', consumer)
  else
    event('retried', 'attempt', nextAttempt, 'reason', reason, 'dueAt', dueAt, 'consumer', consumer)
  end
  return {1, 'delayed'}
end
local newId = redis.call('XADD', KEYS[1], '*', unpack(entry))
-- The projection names the delivery that backs it now (a restore re-run checks it).
redis.call('HSET', KEYS[2], 'entryId', newId)
event(mode == 'reclaim' and 'reclaimed' or 'handed-back', 'attempt', nextAttempt, 'reason', reason,
  'entry', newId, 'consumer', consumer)
return {1, newId}
