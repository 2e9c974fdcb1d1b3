--[[
  claimTask — a worker starts (or resumes) deliveries of tasks (step 2), a whole read
  batch in one call. Per entry, one atomic step: projection `active` + owner, events +=
  claimed; or, when the task already has its outcome (a redelivery of a finished task),
  ack and drop the entry. Each reply carries the provider checkpoint so a resumed task
  polls the provider's existing id instead of paying for a new solve. A claim resets the
  entry's idle time (XCLAIM to the caller, JUSTID: no delivery counted), so the caller's
  lease runs from the claim, which it sent after noting the time, and not from the read.
  (Without it, a reader frozen between read and claim could claim an entry about to be
  reclaimed and take its claim for a fresh lease: a second payment, chaos (b).)
  (One call per batch rather than per entry: a call costs Redis and the client more than
  the claim itself; the entries of a batch are independent, so batching changes nothing
  a crash could split.)

  Called with a variable key count (numkeys first): 1 + 2 per entry.
  KEYS[1]          events             stream
  KEYS[2i], KEYS[2i+1]  task:<id> and tasks:<priority> (the lane the entry was read from) of entry i
  ARGV[1]  consumer group
  ARGV[2]  consumer name (worker id)
  ARGV[3]  now, epoch ms
  ARGV[4]  events MAXLEN; '0' = never trim
  then per entry, in key order, 7 arguments:
    task id, lane entry id, attempt carried by the entry, and the entry's type, tenant,
    priority and deadline: used only if the projection is missing (rebuilt from the
    entry: the streams are the truth)

  Returns, per entry in order:
    {1, provider, providerTaskId}  proceed; both '' when nothing was submitted yet
    {0, status}                    already terminal: entry acked and deleted, do nothing
    {-3}                           NOT_PENDING: the entry is not pending for this consumer
                                   (reclaimed while the reader was frozen between its read
                                   and this claim, or Redis lost it — wiped after the read);
                                   nothing written, the caller drops it. Without this check
                                   a late claim would take the task back from its live
                                   delivery (and rebuild a projection for an entry that no
                                   longer exists, leaving the task `active` forever).
]]
local group, consumer, now, eventsMax = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
local a = 5
for k = 2, #KEYS, 2 do
  local task, lane = KEYS[k], KEYS[k + 1]
  local taskId, entryId, attempt = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local r = a + 3
  a = a + 7

  local pending = redis.call('XPENDING', lane, group, entryId, entryId, 1, consumer)
  local status = #pending > 0 and redis.call('HGET', task, 'status')
  if #pending == 0 then
    out[#out + 1] = {-3}
  elseif TERMINAL[status] then
    redis.call('XACK', lane, group, entryId)
    redis.call('XDEL', lane, entryId)
    appendEvent(KEYS[1], eventsMax, taskId, 'duplicate', now, {'stage', 'claim', 'attempt', attempt, 'consumer', consumer, 'status', status})
    out[#out + 1] = {0, status}
  else
    if not status then
      redis.call('HSET', task, 'createdAt', now, 'task', taskId, 'type', ARGV[r], 'tenant', ARGV[r + 1],
        'priority', ARGV[r + 2], 'deadline', ARGV[r + 3])
    end
    -- The lease starts now, not at the read: a reader frozen between its read and this
    -- claim must not hold an entry already idle for most of its lease (leases.ts).
    redis.call('XCLAIM', lane, group, consumer, 0, entryId, 'JUSTID')
    redis.call('HSET', task, 'status', 'active', 'attempt', attempt, 'consumer', consumer, 'entryId', entryId, 'updatedAt', now)
    appendEvent(KEYS[1], eventsMax, taskId, 'claimed', now, {'attempt', attempt, 'consumer', consumer, 'entry', entryId})
    local cp = redis.call('HMGET', task, 'provider', 'providerTaskId')
    out[#out + 1] = {1, cp[1] or '', cp[2] or ''}
  end
end
return out
