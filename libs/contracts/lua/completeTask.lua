--[[
  completeTask — record tasks' terminal outcomes (step 5), a batch in one call. First
  result wins. Per task, one atomic step: projection solved|failed (+ TTL), results +=
  entry, events += outcome, the task leaves its tenant's open tasks (admission cap), and
  last the XACK + XDEL of the lane entry: a write that fails before it leaves the entry
  pending, to be reclaimed. A second outcome for a task that already has one (a frozen
  worker waking up, a redelivery) is recorded as a `duplicate` event, acked, and never
  published. When the outcome comes from an earlier attempt than the projection's (a
  frozen worker finishing after its task was reclaimed and requeued), the later attempt's
  delivery is deleted from the lane and its retry, if one waits in `delayed`, removed:
  left there, either could outlive the projection's TTL and be taken for a new task
  (claimTask and promoteTask rebuild a missing projection) and solved a second time.
  (Every transition that ends a task releases its open-task slot in the same step, so
  that a client at its tenant's cap that submits again as soon as it sees the result is
  not refused; cancelTask and requeueTask's dead-letter do too. The producer's results
  dispatcher releases it as well — ZREM is idempotent — for results of older scripts.)
  (One call per batch rather than per task, as claimTask: a batched poll answers many
  tasks at once, and a script call costs Redis and the client more than the step itself.
  The tasks of a batch are independent; batching changes nothing a crash could split.)

  Called with a variable key count (numkeys first): 4 + 3 per task.
  KEYS[1]  events             stream
  KEYS[2]  results            stream
  KEYS[3]  delayed            sorted set   } a retry of a later attempt waiting there is
  KEYS[4]  delayed:entries    hash         } removed when an earlier attempt publishes
  KEYS[3i+2], KEYS[3i+3], KEYS[3i+4]  of task i (from 1): task:<id> (projection hash),
                          tasks:<priority> (the lane the entry was read from) and
                          open:<tenant> (the tenant's open tasks, sorted set)
  ARGV[1]  consumer group
  ARGV[2]  projection TTL in seconds after the outcome; '0' = keep forever
  ARGV[3]  events MAXLEN; '0' = never trim
  ARGV[4]  results MAXLEN; '0' = never trim
  ARGV[4+i] task i, ONE JSON array of strings (one argument instead of ≈ 27, as
           submitTask): task id, lane entry id to ack and delete ('' = nothing to ack),
           now (epoch ms), outcome ('solved' | 'failed'), attempt, consumer name, and
           the result entry's field/value pairs as a flat array (also written into the
           projection)

  Returns, per task in order:
           {1, resultEntryId}   this call published the outcome
           {0, status}          DUPLICATE: the task already had an outcome; nothing published
           {-2}                 NO_TASK: no projection; the entry is acked, nothing published
           {-20, why}           its argument is not a complete array as above (JSON that
                                does not decode, a missing or non-string item); nothing
                                written for it (the entry stays pending and is reclaimed
                                after the lease), the other tasks are unaffected
]]
local group, ttl, eventsMax, resultsMax = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local function ack(lane, entryId)
  if entryId ~= '' then
    redis.call('XACK', lane, group, entryId)
    redis.call('XDEL', lane, entryId)
  end
end

local function completeOne(task, lane, open, t)
  local taskId, entryId, now, outcome, attempt, consumer, result = t[1], t[2], t[3], t[4], t[5], t[6], t[7]
  local h = redis.call('HMGET', task, 'status', 'entryId', 'attempt')
  local status, live, latest = h[1], h[2], h[3]
  if not status then
    ack(lane, entryId)
    return {-2}
  elseif TERMINAL[status] then
    ack(lane, entryId)
    appendEvent(KEYS[1], eventsMax, taskId, 'duplicate', now,
      {'stage', 'complete', 'attempt', attempt, 'consumer', consumer, 'outcome', outcome, 'status', status})
    return {0, status}
  else
    local resultId = xadd(KEYS[2], resultsMax, result)
    redis.call('HSET', task, 'status', outcome, 'resultId', resultId, 'updatedAt', now, unpack(result))
    redis.call('HDEL', task, 'v', 'task')
    if ttl > 0 then redis.call('EXPIRE', task, ttl) end
    appendEvent(KEYS[1], eventsMax, taskId, outcome, now, {'attempt', attempt, 'consumer', consumer, 'result', resultId})
    redis.call('ZREM', open, taskId)
    ack(lane, entryId)
    -- A later attempt (this outcome is a frozen worker's, whose task was reclaimed) must
    -- not outlive the projection's TTL: see the header.
    if live and live ~= '' and live ~= entryId then redis.call('XDEL', lane, live) end
    if latest and latest ~= attempt then
      redis.call('ZREM', KEYS[3], taskId)
      redis.call('HDEL', KEYS[4], taskId)
    end
    return {1, resultId}
  end
end

local out = {}
local a = 5
for k = 5, #KEYS, 3 do
  local t, bad = decodeTaskArg(ARGV[a], 6, {7})
  out[#out + 1] = t and completeOne(KEYS[k], KEYS[k + 1], KEYS[k + 2], t) or {-20, bad}
  a = a + 1
end
return out
