--[[
  removeConsumer — deletes an idle consumer from a lane's group, only if it has nothing
  pending. The supervisor's sweep finds candidates with XINFO CONSUMERS; a worker waking
  from a freeze may read entries between that look and the delete, and DELCONSUMER
  would drop them from the pending list, where no reclaim finds them again (the entry
  would be neither pending nor new: its task stranded). Checking and deleting in one
  script leaves no gap.

  KEYS[1]  tasks:<priority>   the lane
  ARGV[1]  group   ARGV[2]  consumer name

  Returns  0    deleted (it had nothing pending)
           -1   it has entries pending: left alone
]]
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 0
