--[[
  admitTask — admission control for one submit, before `submitTask` (producer). Checks,
  in this order, and consumes nothing unless every check passes:

    1. degradation mode   degraded: only high and critical; emergency: only critical
    2. queue depth        every lane's length (queued + in flight) + delayed retries < cap
    3. tenant open cap    the tenant's unfinished tasks < its cap (members past their
                          deadline + grace are dropped first: a missed result self-heals)
    4. tenant rate        token bucket: `rate` tokens per second, `burst` at most

  then records the task as one of the tenant's open tasks (score: deadline + grace).
  The producer removes it when the result arrives, or when the submit turned out to be
  an idempotent replay.

  KEYS[1]  mode               hash (`mode` field: normal | degraded | emergency; missing = normal)
  KEYS[2]  rate:<tenant>      hash (tokens, ts)
  KEYS[3]  open:<tenant>      sorted set
  KEYS[4]  delayed            sorted set
  KEYS[5..] tasks:<priority>  every lane
  ARGV[1]  now, epoch ms
  ARGV[2]  priority of the task
  ARGV[3]  rate, tokens per second ('0' = unlimited)
  ARGV[4]  burst (bucket size, >= 1)
  ARGV[5]  tenant open-task cap ('0' = unlimited)
  ARGV[6]  queue depth cap ('0' = unlimited)
  ARGV[7]  task id
  ARGV[8]  open-until score: deadline + grace, epoch ms

  Returns  {1}                  admitted
           {-11, mode}          MODE: the mode in force does not take this priority
           {-12, depth}         QUEUE_FULL
           {-13, open}          TENANT_FULL
           {-14, retryAfterMs}  RATE_LIMITED
]]
local now, priority = tonumber(ARGV[1]), ARGV[2]
local rate, burst, maxOpen, maxDepth = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local mode = redis.call('HGET', KEYS[1], 'mode') or 'normal'
local allowed = ({
  degraded = {critical = true, high = true},
  emergency = {critical = true},
})[mode]
if allowed and not allowed[priority] then return {-11, mode} end

if maxDepth > 0 then
  local depth = redis.call('ZCARD', KEYS[4])
  for i = 5, #KEYS do depth = depth + redis.call('XLEN', KEYS[i]) end
  if depth >= maxDepth then return {-12, depth} end
end

if maxOpen > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
  local open = redis.call('ZCARD', KEYS[3])
  if open >= maxOpen then return {-13, open} end
end

if rate > 0 then
  local b = redis.call('HMGET', KEYS[2], 'tokens', 'ts')
  local tokens = tonumber(b[1] or '') or burst
  local ts = tonumber(b[2] or '') or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  if tokens < 1 then return {-14, math.ceil((1 - tokens) * 1000 / rate)} end
  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'ts', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], math.ceil(burst * 1000 / rate) + 1000)
end

redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
redis.call('PEXPIRE', KEYS[3], 86400000)
return {1}
