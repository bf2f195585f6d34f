-- ARGV[3]: queue, [4]: the state set to walk ('' the queue's `all`), [5]: states to keep,
-- comma-separated ('' any), [6]: after this id ('' from the start), [7]: '1' newest first,
-- [8]: stop after this many matches, [9]: look at most at this many jobs, [10]: name, [11]: created
-- from, [12]: created before, [13]: text, already lower-cased (each nullable), [14]: '1' to count
-- only. Result: { next cursor or '', count, the matching jobs' fields... }.

local base = queueBase(ARGV[3])
local set = base .. ':all'
if ARGV[4] ~= '' then set = base .. ':state:' .. ARGV[4] end
local wanted = false
if ARGV[5] ~= '' then
  wanted = {}
  for state in string.gmatch(ARGV[5], '[^,]+') do wanted[state] = true end
end
local limit, budget = tonumber(ARGV[8]), tonumber(ARGV[9])
local ids
if ARGV[7] == '1' then
  local top = '+inf'
  if ARGV[6] ~= '' then top = '(' .. ARGV[6] end
  ids = redis.call('ZREVRANGEBYSCORE', set, top, '-inf', 'LIMIT', 0, budget)
else
  local bottom = '-inf'
  if ARGV[6] ~= '' then bottom = '(' .. ARGV[6] end
  ids = redis.call('ZRANGEBYSCORE', set, bottom, '+inf', 'LIMIT', 0, budget)
end
local name, from, to, text = opt(ARGV[10]), opt(ARGV[11]), opt(ARGV[12]), opt(ARGV[13])
local countOnly = ARGV[14] == '1'
local function contains(value)
  return value and string.find(string.lower(value), text, 1, true) ~= nil
end
local found, count, last, stopped = {}, 0, '', false
for _, id in ipairs(ids) do
  last = id
  local key = base .. ':job:' .. id
  local job = redis.call('HMGET', key, 'state', 'name', 'createdAt', 'payload', 'error')
  local match = job[1] ~= false
  if match and wanted then match = wanted[job[1]] == true end
  if match and name then match = job[2] == name end
  if match and from then match = tonumber(job[3]) >= tonumber(from) end
  if match and to then match = tonumber(job[3]) < tonumber(to) end
  if match and text then match = contains(job[4]) or contains(job[5]) end
  if match then
    count = count + 1
    if not countOnly then found[#found + 1] = redis.call('HGETALL', key) end
    if count >= limit then
      stopped = true
      break
    end
  end
end
local cursor = ''
if stopped or #ids == budget then cursor = last end
local result = { cursor, count, found }