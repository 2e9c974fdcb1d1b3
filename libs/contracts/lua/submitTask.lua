--[[
  submitTask — accept new tasks (DESIGN.md "The life of a task", step 1), a batch in
  one call. Per task, ONE atomic step: idempotency check, admission (when asked: the
  producer's path, so admitting and submitting are one round trip), projection
  `queued`, events += submitted, tasks:<priority> += the first delivery entry. The tasks
  of a batch are independent: each gets its own answer, as if it had been its own call,
  in batch order (a later task sees what an earlier one wrote: the same idempotency key
  twice in one batch gives the second the first's task). One call per batch: the
  producer sends the submits of one event-loop turn together (submit.ts).

  Order, per task: an idempotent replay and an existing task come back before
  admission, so neither consumes a rate token or an open-task slot; a refusal writes
  nothing.

  Admission checks, in this order, consuming nothing unless every one passes (the rate
  check, last, takes its token only then):

    1. degradation mode   degraded: only high and critical; emergency: only critical
    2. queue depth        every lane's length (queued + in flight) + delayed retries < cap
    3. tenant open cap    the tenant's unfinished tasks < its cap (members past their
                          deadline + grace are dropped first: a missed result self-heals)
    4. tenant rate        token bucket: `rate` tokens per second, `burst` at most

  then the task is recorded as one of the tenant's open tasks (score: deadline + grace);
  the producer's results dispatcher removes it when the result arrives. The mode and the
  queue depth are read once per call (nothing else runs during it; the depth counts the
  call's own accepted tasks).

  The projection's task, type, tenant, priority and deadline are the entry's fields of
  the same names: they are sent once, in the entry.

  Called with a variable key count (numkeys first): 3 + L + 4 per task.
  KEYS[1]        events              stream
  KEYS[2]        mode                hash (`mode`: normal | degraded | emergency; missing = normal)
  KEYS[3]        delayed             sorted set (admission: queue depth)
  KEYS[4..3+L]   tasks:<priority>    every lane, L = ARGV[2] (admission: queue depth; the
                                     task's own lane is one of them, see its lane index)
  then per task i, 4 keys:
                 task:<id>           projection hash (must not exist yet)
                 idem:<tenant>:<key> idempotency key (untouched when the idempotency TTL is '0')
                 rate:<tenant>       hash (tokens, ts)
                 open:<tenant>       sorted set (admission)
  ARGV[1]  events MAXLEN (approximate trim); '0' = never trim
  ARGV[2]  L: the number of lanes
  ARGV[2+i] task i, ONE JSON array of strings (one argument instead of ≈ 45: the client
           builds and Redis parses each argument separately, and that cost more than
           cjson's decode):
    [1]  task id
    [2]  now, epoch ms
    [3]  idempotency TTL in seconds; '0' = the request has no idempotency key
    [4]  the client's idempotency key ('' when none): recorded in the `submitted` event
         with the TTL, so a restore from the archive can map it to the task again
    [5]  lane index: the task's lane is KEYS[3 + index]
    [6]  admit: '1' = admission first ([7..11] apply), '0' = none (tests, restores, tools)
    [7]  rate, tokens per second ('0' = unlimited)
    [8]  burst (bucket size, >= 1)
    [9]  tenant open-task cap ('0' = unlimited)
    [10] queue depth cap ('0' = unlimited)
    [11] open-until score: deadline + grace, epoch ms
    [12] extra projection field/value pairs (source, callbackUrl, requestHash), a flat array
    [13] lane entry field/value pairs, a flat array (task, type, tenant, priority and
         deadline among them: the projection takes those from here)

  Returns, per task in order:
           {1, laneEntryId}      accepted
           {0, existingTaskId}   the idempotency key already names a task; nothing written
           {-1}                  TASK_EXISTS: the projection already exists; nothing written
           {-11, mode}           MODE: the mode in force does not take this priority
           {-12, depth}          QUEUE_FULL
           {-13, open}           TENANT_FULL
           {-14, retryAfterMs}   RATE_LIMITED      (refusals write nothing)
           {-20, why}            its argument is not a submit array as above (JSON that
                                 does not decode, a missing or non-string item, a number
                                 that is not one, a lane index out of range); nothing
                                 written for it, the other
                                 tasks of the call are unaffected
]]
local eventsMax, nLanes = tonumber(ARGV[1]), tonumber(ARGV[2])
local ALLOWED = {
  degraded = {critical = true, high = true},
  emergency = {critical = true},
}
local PROJECTED = {task = true, type = true, tenant = true, priority = true, deadline = true}
local mode, depth -- read on first need, once per call

local function submitOne(k, t)
  local taskKey, idemKey, rateKey, openKey = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local taskId, now, idemTtl = t[1], t[2], tonumber(t[3])
  local lane, admit = KEYS[3 + tonumber(t[5])], t[6] == '1'
  local extra, fields = t[12], t[13]

  if idemTtl > 0 then
    local existing = redis.call('GET', idemKey)
    if existing then return {0, existing} end
  end
  if redis.call('EXISTS', taskKey) == 1 then return {-1} end

  local proj = {'status', 'queued', 'attempt', '1', 'createdAt', now, 'updatedAt', now}
  local priority
  for i = 1, #fields, 2 do
    local f = fields[i]
    if PROJECTED[f] then
      proj[#proj + 1] = f
      proj[#proj + 1] = fields[i + 1]
      if f == 'priority' then priority = fields[i + 1] end
    end
  end

  if admit then
    local rate, burst, maxOpen, maxDepth = tonumber(t[7]), tonumber(t[8]), tonumber(t[9]), tonumber(t[10])
    local nowN = tonumber(now)

    mode = mode or redis.call('HGET', KEYS[2], 'mode') or 'normal'
    local allowed = ALLOWED[mode]
    if allowed and not allowed[priority] then return {-11, mode} end

    if maxDepth > 0 then
      if not depth then
        depth = redis.call('ZCARD', KEYS[3])
        for i = 4, 3 + nLanes do depth = depth + redis.call('XLEN', KEYS[i]) end
      end
      if depth >= maxDepth then return {-12, depth} end
    end

    if maxOpen > 0 then
      redis.call('ZREMRANGEBYSCORE', openKey, '-inf', '(' .. now)
      local open = redis.call('ZCARD', openKey)
      if open >= maxOpen then return {-13, open} end
    end

    if rate > 0 then
      local b = redis.call('HMGET', rateKey, 'tokens', 'ts')
      local tokens = tonumber(b[1] or '') or burst
      local ts = tonumber(b[2] or '') or nowN
      tokens = math.min(burst, tokens + math.max(0, nowN - ts) * rate / 1000)
      if tokens < 1 then return {-14, math.ceil((1 - tokens) * 1000 / rate)} end
      redis.call('HSET', rateKey, 'tokens', tostring(tokens - 1), 'ts', now)
      redis.call('PEXPIRE', rateKey, math.ceil(burst * 1000 / rate) + 1000)
    end

    redis.call('ZADD', openKey, t[11], taskId)
    redis.call('PEXPIRE', openKey, 86400000)
  end

  for i = 1, #extra do proj[#proj + 1] = extra[i] end
  local entryId = redis.call('XADD', lane, '*', unpack(fields))
  if depth then depth = depth + 1 end
  proj[#proj + 1] = 'entryId'
  proj[#proj + 1] = entryId
  redis.call('HSET', taskKey, unpack(proj))
  if idemTtl > 0 then redis.call('SET', idemKey, taskId, 'EX', idemTtl) end

  local data = {'attempt', '1', 'entry', entryId}
  if idemTtl > 0 then
    data[#data + 1] = 'idem'
    data[#data + 1] = t[4]
    data[#data + 1] = 'idemTtl'
    data[#data + 1] = t[3]
  end
  appendEvent(KEYS[1], eventsMax, taskId, 'submitted', now, data)
  return {1, entryId}
end

local out = {}
local a = 3
for k = 4 + nLanes, #KEYS, 4 do
  local t, bad = decodeTaskArg(ARGV[a], 11, {12, 13})
  if t then
    for _, i in ipairs({2, 3, 7, 8, 9, 10, 11}) do
      if not tonumber(t[i]) then bad = 'item ' .. i .. ' is not a number' break end
    end
    local lane = tonumber(t[5])
    if not bad and not (lane and lane >= 1 and lane <= nLanes) then bad = 'no such lane: ' .. t[5] end
  end
  out[#out + 1] = bad and {-20, bad} or submitOne(k, t)
  a = a + 1
end
return out
