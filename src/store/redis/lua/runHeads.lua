-- Result: schedule id, its newest job's id and that job's queue, per schedule that fired one.

local result = {}
for _, schedule in ipairs(redis.call('SMEMBERS', G .. ':runs')) do
  local newest = redis.call('ZRANGE', G .. ':runs:' .. schedule, -1, -1)[1]
  local queue = newest and redis.call('HGET', G .. ':jobs', newest)
  if queue then result[#result + 1] = { schedule, newest, queue } end
end