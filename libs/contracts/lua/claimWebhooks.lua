--[[
  claimWebhooks — take up to N due webhook deliveries for this sender. Each claimed
  member's score moves to the lease end, so another producer does not send it at the
  same time; a sender that dies mid-delivery leaves it to be claimed again at lease end
  (at-least-once delivery; receivers dedupe by task id).

  KEYS[1]  webhooks   sorted set (member task id, score due ms)
  ARGV[1]  now, epoch ms
  ARGV[2]  lease end, epoch ms
  ARGV[3]  N, most members to claim

  Returns  the claimed task ids
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m) end
return due
