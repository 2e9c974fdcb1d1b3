--[[
  deadLetterEntry — a lane entry that cannot be processed (undecodable, wrong schema,
  unknown type) moves to `dead-letter` with the reason, in one step with its ack, so
  no consumer crashes on it or receives it again.

  KEYS[1]  tasks:<priority>   lane stream holding the entry
  KEYS[2]  dead-letter        stream
  KEYS[3]  events             stream
  ARGV[1]  lane entry id
  ARGV[2]  consumer group
  ARGV[3]  now, epoch ms
  ARGV[4]  reason (human readable, names the bad field)
  ARGV[5]  consumer name
  ARGV[6]  the entry's raw fields as JSON (kept for inspection and replay)
  ARGV[7]  task id if one could be read, else ''
  ARGV[8]  events MAXLEN; '0' = never trim

  Returns  the dead-letter entry id
]]
local entryId, group, now, reason, consumer, raw, taskId, eventsMax =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local dl = redis.call('XADD', KEYS[2], '*', 'v', '1', 'kind', 'poison', 'task', taskId, 'stream', KEYS[1],
  'entry', entryId, 'reason', reason, 'consumer', consumer, 'at', now, 'raw', raw)
redis.call('XACK', KEYS[1], group, entryId)
redis.call('XDEL', KEYS[1], entryId)
if taskId ~= '' then
  appendEvent(KEYS[3], eventsMax, taskId, 'dead-lettered', now, {'reason', reason, 'deadLetter', dl})
end
return dl
