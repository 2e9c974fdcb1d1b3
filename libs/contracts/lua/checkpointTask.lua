--[[
  checkpointTask — the provider accepted the task (step 3). Record its id at once so
  anyone who resumes this task polls that id instead of paying for a new solve.

  KEYS[1]  task:<id>   projection hash
  KEYS[2]  events      stream
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  provider name
  ARGV[4]  provider task id
  ARGV[5]  attempt
  ARGV[6]  consumer name
  ARGV[7]  events MAXLEN; '0' = never trim

  Returns  1   recorded
           0   the task already has its outcome; nothing written
           -2  NO_TASK: no projection
           -6  STALE: a newer delivery of this task exists (this caller lost its lease);
               nothing written, so a woken-up frozen worker cannot overwrite the live checkpoint
]]
local taskId, now, eventsMax = ARGV[1], ARGV[2], tonumber(ARGV[7])
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -2 end
if TERMINAL[status] then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
if current > tonumber(ARGV[5]) then return -6 end
redis.call('HSET', KEYS[1], 'provider', ARGV[3], 'providerTaskId', ARGV[4], 'providerSubmittedAt', now,
  'updatedAt', now)
appendEvent(KEYS[2], eventsMax, taskId, 'provider-submitted', now,
  {'attempt', ARGV[5], 'consumer', ARGV[6], 'provider', ARGV[3], 'providerTaskId', ARGV[4]})
return 1
