-- ARGV[3]: id. Result: the job's fields, or an empty list.

local base, key = locate(ARGV[3])
local result = {}
if base then result = redis.call('HGETALL', key) end