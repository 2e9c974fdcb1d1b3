--[[
  submitTask — accept a new task (DESIGN.md "The life of a task", step 1).
  One atomic step: idempotency check, admission (when asked: the producer's path, so
  admitting and submitting are one round trip), projection `queued`, events +=
  submitted, tasks:<priority> += the first delivery entry.

  Order: an idempotent replay and an existing task come back before admission, so
  neither consumes a rate token or an open-task slot; a refusal writes nothing.

  KEYS[1]  task:<id>            projection hash (must not exist yet)
  KEYS[2]  events               stream
  KEYS[3]  tasks:<priority>     lane stream
  KEYS[4]  idem:<tenant>:<key>  idempotency key (untouched when ARGV[3] == '0')
  KEYS[5]  mode                 hash (admission)
  KEYS[6]  rate:<tenant>        hash (admission)
  KEYS[7]  open:<tenant>        sorted set (admission)
  KEYS[8]  delayed              sorted set (admission: queue depth)
  KEYS[9..] tasks:<priority>    every lane (admission: queue depth)
  ARGV[1]  task id
  ARGV[2]  now, epoch ms
  ARGV[3]  idempotency TTL in seconds; '0' = the request has no idempotency key
  ARGV[4]  events MAXLEN (approximate trim); '0' = never trim
  ARGV[5]  the client's idempotency key ('' when none): recorded in the `submitted`
           event with the TTL, so a restore from the archive can map it to the task again
  ARGV[6]  '1' = admit first (ARGV[7..12] apply), '0' = no admission (KEYS[5..] unused)
  ARGV[7]  priority of the task (checked against the mode)
  ARGV[8]  rate, tokens per second ('0' = unlimited)
  ARGV[9]  burst (bucket size, >= 1)
  ARGV[10] tenant open-task cap ('0' = unlimited)
  ARGV[11] queue depth cap ('0' = unlimited)
  ARGV[12] open-until score: deadline + grace, epoch ms
  ARGV[13] n: the number of projection field/value pairs that follow
  ARGV[14 .. 13+2n]  projection field/value pairs
  ARGV[14+2n ..]     lane entry field/value pairs

  Returns  {1, laneEntryId}      accepted
           {0, existingTaskId}   the idempotency key already names a task; nothing written
           {-1}                  TASK_EXISTS: the projection already exists; nothing written
           {-11..-14, detail}    refused by admission (as admitTask); nothing written
]]
local taskId, now, idemTtl, eventsMax = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

if idemTtl > 0 then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end

if ARGV[6] == '1' then
  local lanes = {}
  for i = 9, #KEYS do lanes[#lanes + 1] = KEYS[i] end
  local refused = admissionCheck(KEYS[5], KEYS[6], KEYS[7], KEYS[8], lanes, now, ARGV[7],
    tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
  if refused then return refused end
  admissionRecord(KEYS[7], ARGV[12], taskId)
end

local n = tonumber(ARGV[13])
local proj, entry = {}, {}
for i = 14, 13 + 2 * n do proj[#proj + 1] = ARGV[i] end
for i = 14 + 2 * n, #ARGV do entry[#entry + 1] = ARGV[i] end

local entryId = redis.call('XADD', KEYS[3], '*', unpack(entry))
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempt', '1', 'createdAt', now, 'updatedAt', now,
  'entryId', entryId, unpack(proj))
if idemTtl > 0 then redis.call('SET', KEYS[4], taskId, 'EX', idemTtl) end

local data = {'attempt', '1', 'entry', entryId}
if idemTtl > 0 then
  data[#data + 1] = 'idem'
  data[#data + 1] = ARGV[5]
  data[#data + 1] = 'idemTtl'
  data[#data + 1] = ARGV[3]
end
appendEvent(KEYS[2], eventsMax, taskId, 'submitted', now, data)
return {1, entryId}
