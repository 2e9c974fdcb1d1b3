--[[
  Shared helpers, prepended to every transition script when it is loaded (transitions.ts):
  Redis scripts cannot import. The SHA of each script covers this preamble too.
]]
local TERMINAL = {solved = true, failed = true, cancelled = true}

-- XADD with an approximate MAXLEN trim (maxlen 0 = never trim). Returns the entry id.
local function xadd(key, maxlen, fields)
  if maxlen > 0 then return redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*', unpack(fields)) end
  return redis.call('XADD', key, '*', unpack(fields))
end

-- Appends one lifecycle event {v, task, event, at, extra…} to the events stream.
local function appendEvent(eventsKey, maxlen, taskId, name, now, extra)
  local ev = {'v', '1', 'task', taskId, 'event', name, 'at', now}
  for i = 1, #extra do ev[#ev + 1] = extra[i] end
  return xadd(eventsKey, maxlen, ev)
end

-- Admission control (admitTask, and submitTask when it admits): the rules are in
-- admitTask.lua's header. Checks in order and consumes nothing unless all pass (the
-- rate check, last, takes its token only then). Returns nil when admitted, else the
-- refusal {code, detail}. `laneKeys` is a list of every lane stream; `nowArg` is the
-- ARGV string of now (epoch ms), written back as given.
local function admissionCheck(modeKey, rateKey, openKey, delayedKey, laneKeys, nowArg, priority, rate, burst, maxOpen, maxDepth)
  local now = tonumber(nowArg)
  local mode = redis.call('HGET', modeKey, 'mode') or 'normal'
  local allowed = ({
    degraded = {critical = true, high = true},
    emergency = {critical = true},
  })[mode]
  if allowed and not allowed[priority] then return {-11, mode} end

  if maxDepth > 0 then
    local depth = redis.call('ZCARD', delayedKey)
    for i = 1, #laneKeys do depth = depth + redis.call('XLEN', laneKeys[i]) end
    if depth >= maxDepth then return {-12, depth} end
  end

  if maxOpen > 0 then
    redis.call('ZREMRANGEBYSCORE', openKey, '-inf', '(' .. nowArg)
    local open = redis.call('ZCARD', openKey)
    if open >= maxOpen then return {-13, open} end
  end

  if rate > 0 then
    local b = redis.call('HMGET', rateKey, 'tokens', 'ts')
    local tokens = tonumber(b[1] or '') or burst
    local ts = tonumber(b[2] or '') or now
    tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
    if tokens < 1 then return {-14, math.ceil((1 - tokens) * 1000 / rate)} end
    redis.call('HSET', rateKey, 'tokens', tostring(tokens - 1), 'ts', nowArg)
    redis.call('PEXPIRE', rateKey, math.ceil(burst * 1000 / rate) + 1000)
  end
  return nil
end

-- Records an admitted task as one of its tenant's open tasks (score: deadline + grace).
local function admissionRecord(openKey, openUntil, taskId)
  redis.call('ZADD', openKey, openUntil, taskId)
  redis.call('PEXPIRE', openKey, 86400000)
end
