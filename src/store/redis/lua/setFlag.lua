-- ARGV[3]: name, [4]: value (nullable: clear).

local value = opt(ARGV[4])
if value then redis.call('HSET', G .. ':flags', ARGV[3], value) else redis.call('HDEL', G .. ':flags', ARGV[3]) end
announce(SCHEDULES)
local result = 1