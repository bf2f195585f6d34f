-- ARGV[3]: id, [4]: expected next run, [5]: next run (nullable), [6]: fired at, [7]: whenActive
-- ('', 'buffer', 'replace'), [8]: the buffered key suffix, then jobs of 13 fields.
-- Result: { fired flag, id, duplicate flag and replaced id ('' for none) per job }.

local id, expected, nextRunAt, firedAt, whenActive, suffix = ARGV[3], ARGV[4], opt(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
local key = G .. ':schedule:' .. id
local schedule = redis.call('HMGET', key, 'nextRunAt', 'paused')
local result = { 0, {} }
if schedule[1] == expected and schedule[2] ~= '1' then
  redis.call('HSET', key, 'lastRunAt', firedAt, 'updatedAt', firedAt)
  if nextRunAt then redis.call('HSET', key, 'nextRunAt', nextRunAt) else redis.call('HDEL', key, 'nextRunAt') end
  scheduleDue(id, nextRunAt, '0')
  result = { 1, insertFired(9, whenActive, suffix, firedAt, nil) }
end