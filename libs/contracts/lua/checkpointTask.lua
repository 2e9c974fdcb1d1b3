--[[
  checkpointTask — the provider accepted tasks (step 3), a batch in one call. Record each
  provider id at once so anyone who resumes the task polls that id instead of paying for
  a new solve. Per task, one atomic step: projection provider + id, events +=
  provider-submitted. (One call per batch, as claimTask: submits answered in the same
  event-loop turn share it; the tasks are independent.)

  Reassert mode (ARGV[2] = '1'): a worker writes checkpoints it already holds again,
  because the one it wrote may be gone (Redis wiped and restored from an archive that
  had not caught up, or the first write failed). Each is written only where the task has
  NO provider id yet, whatever the delivery: a restored task then polls the id that was
  paid for instead of submitting again. A task that already names a provider id keeps
  it (the live checkpoint wins over a late reassertion).

  Called with a variable key count (numkeys first): 1 + 1 per task.
  KEYS[1]    events      stream
  KEYS[i+1]  task:<id>   projection hash of task i
  ARGV[1]  events MAXLEN; '0' = never trim
  ARGV[2]  '1' = reassert mode (see above); else '0'
  then per task, in key order:
    task id, now (epoch ms), provider name, provider task id, attempt, consumer name

  Returns, per task in order:
       1   recorded
       0   the task already has its outcome; nothing written
       2   (reassert only) the task already names a provider id; nothing written
       -2  NO_TASK: no projection
       -6  STALE: a newer delivery of this task exists (this caller lost its lease);
           nothing written, so a woken-up frozen worker cannot overwrite the live checkpoint
]]
local eventsMax, reassert = tonumber(ARGV[1]), ARGV[2] == '1'
local out = {}
local a = 3
for k = 2, #KEYS do
  local task = KEYS[k]
  local taskId, now, provider, providerTaskId, attempt, consumer =
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  a = a + 6
  local state = redis.call('HMGET', task, 'status', 'attempt', 'providerTaskId')
  local status = state[1]
  if not status then
    out[#out + 1] = -2
  elseif TERMINAL[status] then
    out[#out + 1] = 0
  elseif reassert and state[3] and state[3] ~= '' then
    out[#out + 1] = 2
  elseif not reassert and tonumber(state[2] or '0') > tonumber(attempt) then
    out[#out + 1] = -6
  else
    local data = {'attempt', attempt, 'consumer', consumer, 'provider', provider, 'providerTaskId', providerTaskId}
    if reassert then
      data[#data + 1] = 'reasserted'
      data[#data + 1] = '1'
    end
    redis.call('HSET', task, 'provider', provider, 'providerTaskId', providerTaskId, 'providerSubmittedAt', now,
      'updatedAt', now)
    appendEvent(KEYS[1], eventsMax, taskId, 'provider-submitted', now, data)
    out[#out + 1] = 1
  end
end
return out
