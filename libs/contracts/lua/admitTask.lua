--[[
  admitTask — admission control on its own (submitTask does the same checks in its own
  call when given the admission arguments: that is the producer's path). Checks, in this
  order, and consumes nothing unless every check passes (`admissionCheck`, _common.lua):

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
local lanes = {}
for i = 5, #KEYS do lanes[#lanes + 1] = KEYS[i] end
local refused = admissionCheck(KEYS[1], KEYS[2], KEYS[3], KEYS[4], lanes, ARGV[1], ARGV[2],
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
if refused then return refused end
admissionRecord(KEYS[3], ARGV[8], ARGV[7])
return {1}
