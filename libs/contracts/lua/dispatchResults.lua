--[[
  dispatchResults — the producers' side effects of a batch of results read through the
  `producers` group, committed together with their XACK in ONE atomic step (before: a
  pipeline of one HGET per result, then a MULTI; the script reads the callback itself,
  so a batch costs one round trip and one command instead of n + 6). Per result, only if
  its XACK acknowledged it here (it was still pending in the group):

    - count it: stats `<outcome>` and `t:<tenant>:<outcome>` (summed per call)
    - release the task from its tenant's open tasks (admission; the transition that
      ended the task already did: this covers older versions and operators' cancels)
    - schedule its webhook (`webhooks` += task id at `now`, NX) when the projection
      names a non-empty callbackUrl

  and the undecodable entries given are acked as they are (the caller logged them).

  Each result is acknowledged first and its side effects follow only if that XACK took
  it: an instance that froze holding a batch, whose entries another instance took over
  (XAUTOCLAIM) and handled meanwhile, finds them acked when it wakes and counts nothing
  twice, schedules no second webhook. (Whoever acks an entry first handles it.)
  A crash before the call leaves the batch pending (taken over by XAUTOCLAIM). Its writes
  cannot fail part-way on good input (the keys' types are the script's own; a full
  Redis refuses the call at its first write), so the batch is counted and acked once or
  not at all, as with the MULTI before it: no outcome is counted twice, no webhook lost.

  Called with a variable key count (numkeys first): 3 + n + m.
  KEYS[1]            results               stream
  KEYS[2]            stats                 hash
  KEYS[3]            webhooks              sorted set
  KEYS[3+i]          task:<id>             projection of result i (i = 1..n)
  KEYS[3+n+j]        open:<tenant>         open tasks of the j-th distinct tenant (j = 1..m)
  ARGV[1]  consumer group
  ARGV[2]  now, epoch ms (the webhooks' due time)
  ARGV[3]  n: the number of results
  ARGV[4]  m: the number of distinct tenants
  ARGV[4+j] the j-th tenant (its open tasks are KEYS[3+n+j])
  then per result i, 4 arguments: its entry id, task id, outcome, tenant index j
  then the ids of undecodable entries to acknowledge

  Returns {handled, webhooks scheduled}: handled counts the results this call acked.
]]
local group, now, n, m = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local counts, order = {}, {}
local function count(field)
  if not counts[field] then
    counts[field] = 0
    order[#order + 1] = field
  end
  counts[field] = counts[field] + 1
end

local release = {} -- open key index → task ids
local scheduled = 0
local function handle(taskKey, taskId, outcome, j)
  count(outcome)
  count('t:' .. ARGV[4 + j] .. ':' .. outcome)
  release[j] = release[j] or {}
  release[j][#release[j] + 1] = taskId
  local cb = redis.call('HGET', taskKey, 'callbackUrl')
  if cb and cb ~= '' then
    redis.call('ZADD', KEYS[3], 'NX', now, taskId)
    scheduled = scheduled + 1
  end
end

local handled = 0
for i = 1, n do
  local a = 5 + m + 4 * (i - 1)
  local entryId, taskId, outcome, j = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  if redis.call('XACK', KEYS[1], group, entryId) == 1 then
    handled = handled + 1
    handle(KEYS[3 + i], taskId, outcome, j)
  end
end
for _, field in ipairs(order) do redis.call('HINCRBY', KEYS[2], field, counts[field]) end
-- unpack() has a stack limit (≈ 8,000): members and ids go in slices of 500.
local function inSlices(list, fn)
  for i = 1, #list, 500 do fn(unpack(list, i, math.min(i + 499, #list))) end
end
for j, taskIds in pairs(release) do
  inSlices(taskIds, function(...) redis.call('ZREM', KEYS[3 + n + j], ...) end)
end

local ids = {}
for a = 5 + m + 4 * n, #ARGV do ids[#ids + 1] = ARGV[a] end
inSlices(ids, function(...) redis.call('XACK', KEYS[1], group, ...) end)
return {handled, scheduled}
