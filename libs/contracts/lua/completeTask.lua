--[[
  completeTask — record a task's terminal outcome (step 5). First result wins.
  One atomic step: projection solved|failed (+ TTL), results += entry, events += outcome,
  XACK + XDEL of the lane entry. A second outcome for a task that already has one
  (a frozen worker waking up, a redelivery) is recorded as a `duplicate` event, acked,
  and never published.

  KEYS[1]  task:<id>          projection hash
  KEYS[2]  events             stream
  KEYS[3]  results            stream
  KEYS[4]  tasks:<priority>   lane stream the entry was read from
  ARGV[1]  task id
  ARGV[2]  lane entry id to ack and delete ('' = nothing to ack)
  ARGV[3]  consumer group
  ARGV[4]  now, epoch ms
  ARGV[5]  outcome: 'solved' | 'failed'
  ARGV[6]  projection TTL in seconds after the outcome; '0' = keep forever
  ARGV[7]  events MAXLEN; '0' = never trim
  ARGV[8]  results MAXLEN; '0' = never trim
  ARGV[9]  attempt
  ARGV[10] consumer name
  ARGV[11 ..] result entry field/value pairs (also written into the projection)

  Returns  {1, resultEntryId}   this call published the outcome
           {0, status}          DUPLICATE: the task already had an outcome; nothing published
           {-2}                 NO_TASK: no projection; the entry is acked, nothing published
]]
local taskId, entryId, group, now, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ttl, eventsMax, resultsMax, attempt, consumer =
  tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], ARGV[10]

local function ack()
  if entryId ~= '' then
    redis.call('XACK', KEYS[4], group, entryId)
    redis.call('XDEL', KEYS[4], entryId)
  end
end

local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  ack()
  return {-2}
end
if TERMINAL[status] then
  ack()
  appendEvent(KEYS[2], eventsMax, taskId, 'duplicate', now,
    {'stage', 'complete', 'attempt', attempt, 'consumer', consumer, 'outcome', outcome, 'status', status})
  return {0, status}
end

local result = {}
for i = 11, #ARGV do result[#result + 1] = ARGV[i] end
local resultId = xadd(KEYS[3], resultsMax, result)
redis.call('HSET', KEYS[1], 'status', outcome, 'resultId', resultId, 'updatedAt', now, unpack(result))
redis.call('HDEL', KEYS[1], 'v', 'task')
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
appendEvent(KEYS[2], eventsMax, taskId, outcome, now, {'attempt', attempt, 'consumer', consumer, 'result', resultId})
ack()
return {1, resultId}
