-- ARGV[3]: owner, [4]: lease expiry, then id and attempt pairs. Result: the ids renewed.

local result = {}
for at = 5, #ARGV, 2 do
  local base, key = held(ARGV[at], ARGV[3], ARGV[at + 1])
  if base then
    redis.call('HSET', key, 'leaseExpiresAt', ARGV[4])
    redis.call('ZADD', base .. ':active', ARGV[4], ARGV[at])
    result[#result + 1] = ARGV[at]
  end
end