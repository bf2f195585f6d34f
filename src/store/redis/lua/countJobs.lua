-- ARGV[3]: queue, then state names. Result: the count of each.

local base = queueBase(ARGV[3])
local result = {}
for at = 4, #ARGV do result[#result + 1] = redis.call('ZCARD', base .. ':state:' .. ARGV[at]) end