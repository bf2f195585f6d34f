-- ARGV[3]: queue, [4]: the states whose sets to walk, comma-separated ('' the queue's `all`),
-- [5]: after this id ('' from the start), [6]: '1' newest first, [7]: stop after this many matches,
-- [8]: look at most at this many jobs, [9]: name, [10]: created from, [11]: created before,
-- [12]: text, already lower-cased (each nullable), [13]: '1' to count only.
-- Result: { next cursor or '', count, the matching jobs' fields... }.
--
-- Several states are walked as one: each set gives its first `budget` ids past the cursor, and of
-- them merged in id order the first `budget` are looked at. Every id up to the last of those is
-- among them (a set holding another would have filled the budget before it), so the cursor moves
-- past nothing unseen. A job's payload and error are read only to find text in them.

local base = queueBase(ARGV[3])
local sets = {}
if ARGV[4] == '' then
  sets[1] = base .. ':all'
else
  for state in string.gmatch(ARGV[4], '[^,]+') do sets[#sets + 1] = base .. ':state:' .. state end
end
local desc = ARGV[6] == '1'
local limit, budget = tonumber(ARGV[7]), tonumber(ARGV[8])
local ids = {}
for _, set in ipairs(sets) do
  local some
  if desc then
    local top = '+inf'
    if ARGV[5] ~= '' then top = '(' .. ARGV[5] end
    some = redis.call('ZREVRANGEBYSCORE', set, top, '-inf', 'LIMIT', 0, budget)
  else
    local bottom = '-inf'
    if ARGV[5] ~= '' then bottom = '(' .. ARGV[5] end
    some = redis.call('ZRANGEBYSCORE', set, bottom, '+inf', 'LIMIT', 0, budget)
  end
  for _, id in ipairs(some) do ids[#ids + 1] = id end
end
local full = #ids >= budget
if #sets > 1 then
  if desc then
    table.sort(ids, function(a, b) return tonumber(a) > tonumber(b) end)
  else
    table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  end
  while #ids > budget do table.remove(ids) end
end
local name, from, to, text = opt(ARGV[9]), opt(ARGV[10]), opt(ARGV[11]), opt(ARGV[12])
local countOnly = ARGV[13] == '1'
local function contains(value)
  return value and string.find(string.lower(value), text, 1, true) ~= nil
end
local found, count, last, stopped = {}, 0, '', false
for _, id in ipairs(ids) do
  last = id
  local key = base .. ':job:' .. id
  local job = redis.call('HMGET', key, 'state', 'name', 'createdAt')
  local match = job[1] ~= false
  if match and name then match = job[2] == name end
  if match and from then match = tonumber(job[3]) >= tonumber(from) end
  if match and to then match = tonumber(job[3]) < tonumber(to) end
  if match and text then
    local texts = redis.call('HMGET', key, 'payload', 'error')
    match = contains(texts[1]) or contains(texts[2])
  end
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
if stopped or full then cursor = last end
local result = { cursor, count, found }
