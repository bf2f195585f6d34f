-- ARGV[3]: queue, [4]: '1' paused or '0'.

local queue = ARGV[3]
redis.call('SET', queueBase(queue) .. ':paused', ARGV[4])
if not CLUSTER then listQueue(queue) end
if ARGV[4] == '0' then announce(queue) end
local result = 1