--[[
  cancelTask — a client cancels a task that has no outcome yet (REST `POST /v1/tasks/:id/cancel`).
  One atomic step: projection `cancelled` (+ TTL), results += {outcome: cancelled},
  events += cancelled, the task leaves the delayed set if a retry was waiting there and
  its tenant's open tasks.

  The lane delivery the projection names (`entryId`) is deleted in the same step. Left
  in the lane, it outlived the projection's TTL when the lane had a backlog, and then
  claimTask, finding no projection, rebuilt the task and a worker solved, paid for and
  published it a second time. A worker already solving it loses its lease at its next
  renewal (XCLAIM drops deleted ids) and stops polling; should it finish first anyway,
  completeTask records its answer as a `duplicate` event (first outcome wins).

  KEYS[1]  task:<id>          projection hash
  KEYS[2]  events             stream
  KEYS[3]  results            stream
  KEYS[4]  delayed            sorted set
  KEYS[5]  delayed:entries    hash
  KEYS[6]  open:<tenant>      the asking tenant's open tasks (sorted set): the cancelled task
                              leaves it here, so a client at its cap may submit again at
                              once (an operator's cancel, tenant '', leaves it to the
                              producer's results dispatcher)
  KEYS[7..] every lane (tasks:<priority>), to find the one holding the delivery
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  tenant asking; '' = any (operators). Another tenant's task answers NO_TASK
  ARGV[4]  projection TTL in seconds after the outcome; '0' = keep forever
  ARGV[5]  events MAXLEN; '0' = never trim
  ARGV[6]  results MAXLEN; '0' = never trim
  ARGV[7]  reason (text)

  Returns  {1, resultEntryId}   cancelled by this call
           {0, status}          the task already has its outcome; nothing written
           {-2}                 NO_TASK: no projection, or it belongs to another tenant
]]
local taskId, now, tenant, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local eventsMax, resultsMax, reason = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]

local h = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'type', 'attempt', 'provider', 'providerTaskId', 'priority', 'entryId')
local status = h[1]
if not status then return {-2} end
if tenant ~= '' and h[2] ~= tenant then return {-2} end
if TERMINAL[status] then return {0, status} end

local result = {'v', '1', 'task', taskId, 'outcome', 'cancelled', 'tenant', h[2] or '', 'type', h[3] or '',
  'attempt', h[4] or '1', 'completedAt', now, 'errorCode', 'CANCELLED', 'errorMessage', reason}
if h[5] then result[#result + 1] = 'provider'; result[#result + 1] = h[5] end
if h[6] then result[#result + 1] = 'providerTaskId'; result[#result + 1] = h[6] end
local resultId = xadd(KEYS[3], resultsMax, result)
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'resultId', resultId, 'updatedAt', now, 'completedAt', now,
  'errorCode', 'CANCELLED', 'errorMessage', reason)
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('ZREM', KEYS[4], taskId)
redis.call('HDEL', KEYS[5], taskId)
if tenant ~= '' then redis.call('ZREM', KEYS[6], taskId) end
dropDelivery(7, h[7], h[8])
appendEvent(KEYS[2], eventsMax, taskId, 'cancelled', now, {'reason', reason, 'result', resultId})
return {1, resultId}
