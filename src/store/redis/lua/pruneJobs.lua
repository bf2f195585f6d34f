-- ARGV[3]: queue, [4]: finished before, [5]: at most this many, then states. Result: how many.

local queue, before, limit = ARGV[3], ARGV[4], tonumber(ARGV[5])
local base = queueBase(queue)
local result = 0
for at = 6, #ARGV do
  local state = ARGV[at]
  if FINISHED[state] and result < limit then
    local ids = redis.call('ZRANGEBYSCORE', base .. ':finished:' .. state, '-inf', '(' .. before, 'LIMIT', 0,
      limit - result)
    for _, id in ipairs(ids) do
      deleteJob(base, base .. ':job:' .. id, id)
      result = result + 1
    end
  end
end
forgetQueueIfEmpty(base, queue)