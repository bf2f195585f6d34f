-- ARGV[3]: id, [4]: '1' paused or '0', [5]: note (nullable), [6]: now, [7]: resume at ('' not given, else nullable after a '+').

local id, paused, note, now = ARGV[3], ARGV[4], opt(ARGV[5]), ARGV[6]
local key = G .. ':schedule:' .. id
local result = 0
if redis.call('EXISTS', key) == 1 then
  redis.call('HSET', key, 'paused', paused, 'updatedAt', now)
  if paused == '0' and ARGV[7] ~= '' then
    local resumeAt = opt(string.sub(ARGV[7], 2))
    if resumeAt then redis.call('HSET', key, 'nextRunAt', resumeAt) else redis.call('HDEL', key, 'nextRunAt') end
  end
  if note then redis.call('HSET', key, 'note', note) else redis.call('HDEL', key, 'note') end
  scheduleDue(id, redis.call('HGET', key, 'nextRunAt'), paused)
  announce(SCHEDULES)
  result = 1
end