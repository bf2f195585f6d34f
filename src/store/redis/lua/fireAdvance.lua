-- The last step: ARGV[3]: schedule id, [4]: the next run expected, [5]: next run (nullable),
-- [6]: fired at, then as updateIndex from ARGV[7]. Moves the schedule on if it still expects that
-- run (it may have already, by another scheduler that found the occurrence fired).
-- Result: 1 when it moved the schedule on.

local id, expected, nextRunAt, firedAt = ARGV[3], ARGV[4], opt(ARGV[5]), ARGV[6]
local key = G .. ':schedule:' .. id
local result = 0
if redis.call('HGET', key, 'nextRunAt') == expected then
  redis.call('HSET', key, 'lastRunAt', firedAt, 'updatedAt', firedAt)
  if nextRunAt then redis.call('HSET', key, 'nextRunAt', nextRunAt) else redis.call('HDEL', key, 'nextRunAt') end
  scheduleDue(id, nextRunAt, redis.call('HGET', key, 'paused'))
  result = 1
end
updateIndex(7)