-- The first step of a fire on a Cluster. ARGV[3]: schedule id, [4]: the next run expected, then a
-- queue per id to reserve. Result: the first reserved id, or 0 when the schedule has moved on or
-- is paused (nothing reserved).

local schedule = redis.call('HMGET', G .. ':schedule:' .. ARGV[3], 'nextRunAt', 'paused')
local result = 0
if schedule[1] == ARGV[4] and schedule[2] ~= '1' then result = reserveIds(5) end