-- ARGV[3]: id, [4]: queue, [5]: now, then the states it may leave.

local id, queue, now = ARGV[3], ARGV[4], ARGV[5]
local base, key = transitionable(queue, id, 6)
local result = key
if base then
  cancel(base, key, id, now)
  result = { 'ok', redis.call('HGETALL', key) }
end