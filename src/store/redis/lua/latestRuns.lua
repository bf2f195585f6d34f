-- Result: schedule id and the fields of its newest job, per schedule that fired one.

local result = {}
for _, schedule in ipairs(redis.call('SMEMBERS', G .. ':runs')) do
  local newest = redis.call('ZRANGE', G .. ':runs:' .. schedule, -1, -1)[1]
  if newest then
    local base, key = locate(newest)
    if base then result[#result + 1] = { schedule, redis.call('HGETALL', key) } end
  end
end