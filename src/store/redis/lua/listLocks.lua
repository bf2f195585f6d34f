-- Result: name and fields of every held lock, by name.

local result = {}
for i, name in ipairs(redis.call('ZRANGE', G .. ':locks', 0, -1)) do
  result[i] = { name, redis.call('HGETALL', G .. ':lock:' .. name) }
end