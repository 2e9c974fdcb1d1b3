--[[
  reportTask — a client reports a solved task's answer as good or bad (gateway
  `reportgood` / `reportbad`, JSON-API report methods). Provider keys live only in
  workers, so the report is queued on the `reports` stream (schema: reports.ts) for a
  worker to forward to the provider that solved it. One report per task.

  KEYS[1]  task:<id>   projection hash
  KEYS[2]  events      stream
  KEYS[3]  reports     stream
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  tenant asking; '' = any. Another tenant's task answers NO_TASK
  ARGV[4]  verdict: 'good' | 'bad'
  ARGV[5]  report window after completion, ms ('0' = no limit)
  ARGV[6]  events MAXLEN; '0' = never trim
  ARGV[7]  reports MAXLEN; '0' = never trim

  Returns  {1, reportEntryId}   recorded
           {0, 'not-solved'}    the task has no answer to report on (not finished, or failed)
           {0, 'too-late'}      the report window has passed
           {0, 'duplicate'}     the task was already reported
           {-2}                 NO_TASK: no projection, or another tenant's task
]]
local taskId, now, tenant, verdict = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local window, eventsMax, reportsMax = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

local h = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'type', 'provider', 'providerTaskId', 'completedAt', 'reported')
if not h[1] then return {-2} end
if tenant ~= '' and h[2] ~= tenant then return {-2} end
if h[1] ~= 'solved' then return {0, 'not-solved'} end
if h[7] then return {0, 'duplicate'} end
local completedAt = tonumber(h[6] or '') or now
if window > 0 and now - completedAt > window then return {0, 'too-late'} end

local fields = {'v', '1', 'task', taskId, 'tenant', h[2] or '', 'type', h[3] or '', 'verdict', verdict,
  'provider', h[4] or '', 'providerTaskId', h[5] or '', 'at', ARGV[2]}
local id = xadd(KEYS[3], reportsMax, fields)
redis.call('HSET', KEYS[1], 'reported', verdict, 'reportedAt', ARGV[2], 'updatedAt', ARGV[2])
appendEvent(KEYS[2], eventsMax, taskId, 'reported', ARGV[2], {'verdict', verdict, 'report', id})
return {1, id}
