-- ARGV[3]: queue, [4]: state or '' for all, [5]: offset, [6]: limit, [7]: '1' newest first.

local base = queueBase(ARGV[3])
local set = base .. ':all'
if ARGV[4] ~= '' then set = base .. ':state:' .. ARGV[4] end
local offset, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local result = {}
if limit > 0 then
  local command = 'ZRANGE'
  if ARGV[7] == '1' then command = 'ZREVRANGE' end
  for i, id in ipairs(redis.call(command, set, offset, offset + limit - 1)) do
    result[i] = redis.call('HGETALL', base .. ':job:' .. id)
  end
end