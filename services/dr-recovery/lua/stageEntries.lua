--[[
  stageEntries — appends one chunk of archived entries, with their original ids, to a
  staging stream (restore.ts; restoreStream.lua then swaps it in). One call per chunk
  instead of one XADD command per entry: a restore spends its time in Redis, not in
  encoding and parsing commands.

  KEYS[1]  the staging stream (dr:staging:<name>)
  ARGV     per entry: id, n, then n field/value strings

  Returns  the number of entries appended
]]
local a, n = 1, 0
while a <= #ARGV do
  local id, nf = ARGV[a], tonumber(ARGV[a + 1])
  redis.call('XADD', KEYS[1], id, unpack(ARGV, a + 2, a + 1 + nf))
  a = a + 2 + nf
  n = n + 1
end
return n
