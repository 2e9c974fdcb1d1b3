--[[
  claimTask — a worker starts (or resumes) one delivery of a task (step 2).
  One atomic step: projection `active` + owner, events += claimed; or, when the task
  already has its outcome (a redelivery of a finished task), ack and drop the entry.
  The reply carries the provider checkpoint so a resumed task polls the provider's
  existing id instead of paying for a new solve.

  KEYS[1]  task:<id>          projection hash
  KEYS[2]  events             stream
  KEYS[3]  tasks:<priority>   lane stream the entry was read from
  ARGV[1]  task id
  ARGV[2]  lane entry id
  ARGV[3]  consumer group
  ARGV[4]  consumer name (worker id)
  ARGV[5]  now, epoch ms
  ARGV[6]  attempt number carried by the entry
  ARGV[7]  events MAXLEN; '0' = never trim
  ARGV[8 ..] projection field/value pairs used only if the projection is missing
             (rebuilt from the entry: the streams are the truth)

  Returns  {1, provider, providerTaskId}  proceed; both '' when nothing was submitted yet
           {0, status}                    already terminal: entry acked and deleted, do nothing
]]
local taskId, entryId, group, consumer, now, attempt, eventsMax =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])

local function event(name, ...)
  appendEvent(KEYS[2], eventsMax, taskId, name, now, {...})
end

local status = redis.call('HGET', KEYS[1], 'status')
if TERMINAL[status] then
  redis.call('XACK', KEYS[3], group, entryId)
  redis.call('XDEL', KEYS[3], entryId)
  event('duplicate', 'stage', 'claim', 'attempt', attempt, 'consumer', consumer, 'status', status)
  return {0, status}
end
if not status then
  local rebuild = {}
  for i = 8, #ARGV do rebuild[#rebuild + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], 'createdAt', now, unpack(rebuild))
end
redis.call('HSET', KEYS[1], 'status', 'active', 'attempt', attempt, 'consumer', consumer,
  'entryId', entryId, 'updatedAt', now)
event('claimed', 'attempt', attempt, 'consumer', consumer, 'entry', entryId)
local cp = redis.call('HMGET', KEYS[1], 'provider', 'providerTaskId')
return {1, cp[1] or '', cp[2] or ''}
