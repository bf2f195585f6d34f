-- ARGV[3]: now, then id, spec hash and next run (nullable) per schedule.

local now = ARGV[3]
local result = 0
for at = 4, #ARGV, 3 do
  local id, specHash, nextRunAt = ARGV[at], ARGV[at + 1], opt(ARGV[at + 2])
  local key = G .. ':schedule:' .. id
  local current = redis.call('HMGET', key, 'specHash', 'paused')
  if current[1] ~= specHash then
    if not current[1] then
      redis.call('HSET', key, 'paused', '0')
      redis.call('ZADD', G .. ':schedule-ids', 0, id)
    end
    -- A changed spec takes its new next run; an unchanged one keeps its own (missed runs included).
    redis.call('HSET', key, 'specHash', specHash, 'updatedAt', now)
    if nextRunAt then redis.call('HSET', key, 'nextRunAt', nextRunAt) else redis.call('HDEL', key, 'nextRunAt') end
    scheduleDue(id, nextRunAt, current[2])
    result = result + 1
  end
end
if result > 0 then announce(SCHEDULES) end