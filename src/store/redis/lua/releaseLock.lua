-- ARGV[3]: name, [4]: token (nullable: whoever holds it). Result: 1 when released.

local key = G .. ':lock:' .. ARGV[3]
local token = opt(ARGV[4])
local lock = redis.call('HMGET', key, 'owner', 'token')
local result = 0
if lock[1] and (not token or lock[2] == token) then
  -- The hash stays (with its token) so the next holder's token is greater.
  redis.call('HDEL', key, 'owner', 'acquiredAt', 'heartbeatAt', 'ttlMs')
  redis.call('ZREM', G .. ':locks', ARGV[3])
  result = 1
end