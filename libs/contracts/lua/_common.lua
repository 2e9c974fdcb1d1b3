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
