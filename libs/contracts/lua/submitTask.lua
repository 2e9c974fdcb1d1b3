--[[
  submitTask — accept a new task (DESIGN.md "The life of a task", step 1).
  One atomic step: idempotency check, admission (when asked: the producer's path, so
  admitting and submitting are one round trip), projection `queued`, events +=
  submitted, tasks:<priority> += the first delivery entry.

  Order: an idempotent replay and an existing task come back before admission, so
  neither consumes a rate token or an open-task slot; a refusal writes nothing.

  Admission checks, in this order, consuming nothing unless every one passes (the rate
  check, last, takes its token only then):

    1. degradation mode   degraded: only high and critical; emergency: only critical
    2. queue depth        every lane's length (queued + in flight) + delayed retries < cap
    3. tenant open cap    the tenant's unfinished tasks < its cap (members past their
                          deadline + grace are dropped first: a missed result self-heals)
    4. tenant rate        token bucket: `rate` tokens per second, `burst` at most

  then the task is recorded as one of the tenant's open tasks (score: deadline + grace);
  the producer's results dispatcher removes it when the result arrives.

  KEYS[1]  task:<id>            projection hash (must not exist yet)
  KEYS[2]  events               stream
  KEYS[3]  tasks:<priority>     lane stream
  KEYS[4]  idem:<tenant>:<key>  idempotency key (untouched when ARGV[3] == '0')
  KEYS[5]  mode                 hash (`mode`: normal | degraded | emergency; missing = normal)
  KEYS[6]  rate:<tenant>        hash (tokens, ts)
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
           {-11, mode}           MODE: the mode in force does not take this priority
           {-12, depth}          QUEUE_FULL
           {-13, open}           TENANT_FULL
           {-14, retryAfterMs}   RATE_LIMITED      (refusals write nothing)
]]
local taskId, now, idemTtl, eventsMax = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

if idemTtl > 0 then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end

if ARGV[6] == '1' then
  local priority = ARGV[7]
  local rate, burst, maxOpen, maxDepth = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
  local nowN = tonumber(now)

  local mode = redis.call('HGET', KEYS[5], 'mode') or 'normal'
  local allowed = ({
    degraded = {critical = true, high = true},
    emergency = {critical = true},
  })[mode]
  if allowed and not allowed[priority] then return {-11, mode} end

  if maxDepth > 0 then
    local depth = redis.call('ZCARD', KEYS[8])
    for i = 9, #KEYS do depth = depth + redis.call('XLEN', KEYS[i]) end
    if depth >= maxDepth then return {-12, depth} end
  end

  if maxOpen > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', '(' .. now)
    local open = redis.call('ZCARD', KEYS[7])
    if open >= maxOpen then return {-13, open} end
  end

  if rate > 0 then
    local b = redis.call('HMGET', KEYS[6], 'tokens', 'ts')
    local tokens = tonumber(b[1] or '') or burst
    local ts = tonumber(b[2] or '') or nowN
    tokens = math.min(burst, tokens + math.max(0, nowN - ts) * rate / 1000)
    if tokens < 1 then return {-14, math.ceil((1 - tokens) * 1000 / rate)} end
    redis.call('HSET', KEYS[6], 'tokens', tostring(tokens - 1), 'ts', now)
    redis.call('PEXPIRE', KEYS[6], math.ceil(burst * 1000 / rate) + 1000)
  end

  redis.call('ZADD', KEYS[7], ARGV[12], taskId)
  redis.call('PEXPIRE', KEYS[7], 86400000)
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
