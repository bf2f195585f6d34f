-- ARGV[3]: name, [4]: owner JSON, [5]: now, [6]: TTL. Result: the new token, or 0 when held.

local name, owner, now, ttl = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = G .. ':lock:' .. name
local lock = redis.call('HMGET', key, 'owner', 'token', 'heartbeatAt', 'ttlMs')
local result = 0
if not lock[2] then
  result = 1
elseif not lock[1] or tonumber(lock[3]) + tonumber(lock[4]) < tonumber(now) then
  -- Free, or held past its TTL without a heartbeat: the next fencing token.
  result = tonumber(lock[2]) + 1
end
if result > 0 then
  redis.call('HSET', key, 'owner', owner, 'token', int(result), 'acquiredAt', now, 'heartbeatAt', now,
    'ttlMs', ttl)
  redis.call('ZADD', G .. ':locks', 0, name)
end