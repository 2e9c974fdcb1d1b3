--[[
  allocateId — the next numeric task id of a partition (gateway tasks: the 2captcha and
  anti-captcha clients need all-digit ids that fit a JS number).

  id = max(last + 1, now_ms * 1024): strictly increasing within the partition, and
  seeded by the clock, so a wiped or restored Redis never reissues an id handed out
  before (unless more than 1,024 ids per ms were issued for a long time, which only
  moves ids ahead of the clock). Below 2^53 until the year 2248.

  KEYS[1]  id-seq   string
  ARGV[1]  now, epoch ms

  Returns  the id as a decimal string
]]
local base = tonumber(ARGV[1]) * 1024
local id = (tonumber(redis.call('GET', KEYS[1]) or '0') or 0) + 1
if id < base then id = base end
local s = string.format('%.0f', id)
redis.call('SET', KEYS[1], s)
return s
