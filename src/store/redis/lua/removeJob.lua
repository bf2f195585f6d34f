-- ARGV[3]: id, [4]: queue, then the states it may leave. Result: the job as it was.

local id, queue = ARGV[3], ARGV[4]
local base, key = transitionable(queue, id, 5)
local result = key
if base then
  result = { 'ok', redis.call('HGETALL', key) }
  deleteJob(base, key, id)
  forgetQueueIfEmpty(base, queue)
end