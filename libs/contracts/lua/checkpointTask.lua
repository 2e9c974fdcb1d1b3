--[[
  checkpointTask — the provider accepted the task (step 3). Record its id at once so
  anyone who resumes this task polls that id instead of paying for a new solve.

  Reassert mode (ARGV[8] = '1'): a worker writes a checkpoint it already holds again,
  because the one it wrote may be gone (Redis wiped and restored from an archive that
  had not caught up, or the first write failed). It is written only where the task has
  NO provider id yet, whatever the delivery: a restored task then polls the id that was
  paid for instead of submitting again. A task that already names a provider id keeps
  it (the live checkpoint wins over a late reassertion).

  KEYS[1]  task:<id>   projection hash
  KEYS[2]  events      stream
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  provider name
  ARGV[4]  provider task id
  ARGV[5]  attempt
  ARGV[6]  consumer name
  ARGV[7]  events MAXLEN; '0' = never trim
  ARGV[8]  '1' = reassert mode (see above); else '0' or absent

  Returns  1   recorded
           0   the task already has its outcome; nothing written
           2   (reassert only) the task already names a provider id; nothing written
           -2  NO_TASK: no projection
           -6  STALE: a newer delivery of this task exists (this caller lost its lease);
               nothing written, so a woken-up frozen worker cannot overwrite the live checkpoint
]]
local taskId, now, eventsMax = ARGV[1], ARGV[2], tonumber(ARGV[7])
local reassert = ARGV[8] == '1'
local state = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'providerTaskId')
local status = state[1]
if not status then return -2 end
if TERMINAL[status] then return 0 end
local data = {'attempt', ARGV[5], 'consumer', ARGV[6], 'provider', ARGV[3], 'providerTaskId', ARGV[4]}
if reassert then
  if state[3] and state[3] ~= '' then return 2 end
  data[#data + 1] = 'reasserted'
  data[#data + 1] = '1'
elseif tonumber(state[2] or '0') > tonumber(ARGV[5]) then
  return -6
end
redis.call('HSET', KEYS[1], 'provider', ARGV[3], 'providerTaskId', ARGV[4], 'providerSubmittedAt', now,
  'updatedAt', now)
appendEvent(KEYS[2], eventsMax, taskId, 'provider-submitted', now, data)
return 1
