-- ARGV[3]: queue. Result: 1 when forgotten (no job left), 0 while it has jobs.

local queue = ARGV[3]
local base = queueBase(queue)
local result = 0
if redis.call('ZCARD', base .. ':all') == 0 then
  redis.call('DEL', base .. ':paused')
  if not CLUSTER then redis.call('SREM', G .. ':queues', queue) end
  result = 1
end