--[[
  expireTask — a task is past its deadline (plus a grace) and still has no outcome.
  The worker normally fails a task at its deadline; this covers every case where no
  worker does (no live worker, a task stuck in a lane or in the delayed set), so that a
  client that polls — gateway clients never time out on their own — always gets a
  final answer. Called on the read path by the producer; safe from anyone, any time.

  One atomic step: projection failed with ERROR_CAPTCHA_UNSOLVABLE (+ TTL), results +=
  the failed result, events += expired + failed, delayed retry removed, and the lane
  delivery the projection names deleted (see cancelTask: left in the lane, it could
  outlive the projection's TTL and be solved as a new task); a worker still solving
  loses its lease at its next renewal, or at completeTask (first outcome wins).

  KEYS[1]  task:<id>          projection hash
  KEYS[2]  events             stream
  KEYS[3]  results            stream
  KEYS[4]  delayed            sorted set
  KEYS[5]  delayed:entries    hash
  KEYS[6..] every lane (tasks:<priority>), to find the one holding the delivery
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  grace after the deadline, ms (the worker's own deadline failure should win)
  ARGV[4]  projection TTL in seconds after the outcome; '0' = keep forever
  ARGV[5]  events MAXLEN; '0' = never trim
  ARGV[6]  results MAXLEN; '0' = never trim

  Returns  {1, resultEntryId}   expired by this call
           {0, status}          the task already has its outcome; nothing written
           {-2}                 NO_TASK: no projection
           {-10}                NOT_DUE: deadline + grace has not passed (or no deadline)
]]
local taskId, now, grace, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local eventsMax, resultsMax = tonumber(ARGV[5]), tonumber(ARGV[6])

local h = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'type', 'attempt', 'provider', 'providerTaskId', 'deadline', 'priority', 'entryId')
local status = h[1]
if not status then return {-2} end
if TERMINAL[status] then return {0, status} end
local deadline = tonumber(h[7] or '')
if not deadline or deadline + grace > now then return {-10} end

local message = 'no answer before the task deadline'
local result = {'v', '1', 'task', taskId, 'outcome', 'failed', 'tenant', h[2] or '', 'type', h[3] or '',
  'attempt', h[4] or '1', 'completedAt', ARGV[2], 'errorCode', 'ERROR_CAPTCHA_UNSOLVABLE', 'errorMessage', message}
if h[5] then result[#result + 1] = 'provider'; result[#result + 1] = h[5] end
if h[6] then result[#result + 1] = 'providerTaskId'; result[#result + 1] = h[6] end
local resultId = xadd(KEYS[3], resultsMax, result)
redis.call('HSET', KEYS[1], 'status', 'failed', 'resultId', resultId, 'updatedAt', ARGV[2], 'completedAt', ARGV[2],
  'errorCode', 'ERROR_CAPTCHA_UNSOLVABLE', 'errorMessage', message)
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('ZREM', KEYS[4], taskId)
redis.call('HDEL', KEYS[5], taskId)
dropDelivery(6, h[8], h[9])
appendEvent(KEYS[2], eventsMax, taskId, 'expired', ARGV[2], {'deadline', h[7], 'status', status})
appendEvent(KEYS[2], eventsMax, taskId, 'failed', ARGV[2],
  {'attempt', h[4] or '1', 'result', resultId, 'errorCode', 'ERROR_CAPTCHA_UNSOLVABLE'})
return {1, resultId}
