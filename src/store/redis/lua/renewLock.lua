-- ARGV[3]: name, [4]: token, [5]: now. Result: 1 when renewed.

local key = G .. ':lock:' .. ARGV[3]
local lock = redis.call('HMGET', key, 'owner', 'token')
local result = 0
if lock[1] and lock[2] == ARGV[4] then
  redis.call('HSET', key, 'heartbeatAt', ARGV[5])
  result = 1
end