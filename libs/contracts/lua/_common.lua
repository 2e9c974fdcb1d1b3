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

-- A batched script's per-task JSON argument, decoded and checked before anything is
-- written: an array whose first `n` items are strings and whose items `arrays` are flat
-- lists of strings with an even length (field/value pairs). Returns the array, or nil
-- and why not (the caller answers {-20, why}, BAD_ARGUMENT, for that task alone).
local function decodeTaskArg(arg, n, arrays)
  local ok, t = pcall(cjson.decode, arg)
  if not ok then return nil, tostring(t) end
  if type(t) ~= 'table' then return nil, 'not an array' end
  for i = 1, n do
    if type(t[i]) ~= 'string' then return nil, 'item ' .. i .. ' is not a string' end
  end
  for _, i in ipairs(arrays) do
    local list = t[i]
    if type(list) ~= 'table' or #list % 2 ~= 0 then return nil, 'item ' .. i .. ' is not a list of pairs' end
    for j = 1, #list do
      if type(list[j]) ~= 'string' then return nil, 'item ' .. i .. '[' .. j .. '] is not a string' end
    end
  end
  return t
end

-- Deletes a terminal task's lane delivery `entryId` from the lane of `priority`, found
-- among KEYS[first..] (every lane). A delivery left in a lane outlives the projection's
-- TTL and claimTask would take it for a task whose projection is missing (rebuild).
-- A worker holding it loses its lease (XCLAIM drops deleted ids from the PEL).
local function dropDelivery(first, priority, entryId)
  if not priority or not entryId or entryId == '' then return end
  local suffix = 'tasks:' .. priority
  for i = first, #KEYS do
    if string.sub(KEYS[i], -#suffix) == suffix then redis.call('XDEL', KEYS[i], entryId) return end
  end
end

-- Writes the base of a MISSING projection from a task entry's field/value list (the
-- streams are the truth: after a data loss an entry or a delayed retry may outlive its
-- projection). Without it a requeue or a promotion wrote only its own fields, and the
-- task was left without type, tenant or deadline: invisible to its client (tenant
-- check) and to the expiry sweep. claimTask does the same from its arguments.
local function rebuildProjection(task, taskId, now, fields)
  local f = {}
  for i = 1, #fields - 1, 2 do f[fields[i]] = fields[i + 1] end
  redis.call('HSET', task, 'status', 'queued', 'createdAt', now, 'task', taskId, 'type', f.type or '',
    'tenant', f.tenant or '', 'priority', f.priority or '', 'deadline', f.deadline or '')
end
