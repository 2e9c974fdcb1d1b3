--[[
  recordDelivery — the outcome of one webhook delivery attempt for a task, written to
  the task's projection (what GET shows) and its event history in one step.

  KEYS[1]  task:<id>   projection hash (may have expired: then only the event is written)
  KEYS[2]  events      stream
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  event: 'webhook-delivered' | 'webhook-failed' | 'webhook-abandoned'
  ARGV[4]  attempt number (1 = first delivery)
  ARGV[5]  HTTP status of the callback ('' = no answer)
  ARGV[6]  error text ('' = none)
  ARGV[7]  events MAXLEN; '0' = never trim

  Returns  1  recorded (projection + event)
           0  the projection is gone; only the event was written
]]
local taskId, now, event, attempt, status, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local eventsMax = tonumber(ARGV[7])
local state = ({['webhook-delivered'] = 'delivered', ['webhook-failed'] = 'retrying', ['webhook-abandoned'] = 'failed'})[event]
local extra = {'attempt', attempt}
if status ~= '' then extra[#extra + 1] = 'httpStatus'; extra[#extra + 1] = status end
if err ~= '' then extra[#extra + 1] = 'error'; extra[#extra + 1] = err end
appendEvent(KEYS[2], eventsMax, taskId, event, now, extra)
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'webhookStatus', state, 'webhookAttempts', attempt, 'updatedAt', now)
return 1
