-- Result: the fields of every schedule, by id.

local result = {}
for i, id in ipairs(redis.call('ZRANGE', G .. ':schedule-ids', 0, -1)) do
  result[i] = { id, redis.call('HGETALL', G .. ':schedule:' .. id) }
end