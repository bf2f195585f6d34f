-- The second step, in the jobs' queue (KEYS[1]): ARGV[3]: schedule id, [4]: the occurrence (the next
-- run expected), [5]: whenActive, [6]: the buffered key suffix, [7]: fired at, [8]: reserved ids
-- (two per job), then jobs of 13 fields. The queue remembers the last occurrence each schedule
-- fired into it, and what that fire added, so whichever scheduler gets here first inserts and no
-- other does, however the global step after it goes; an older occurrence arriving late (from a
-- scheduler that stalled) is refused too. The same fire sent again after its answer was lost (its
-- reserved ids say so) gets the same answer. Result: { inserted flag, as fireSchedule's added }.

local marker = KEYS[1] .. ':fired'
local last = redis.call('HGET', marker, ARGV[3])
last = last and cjson.decode(last)
local result = { 0, {} }
if not last or tonumber(ARGV[4]) > tonumber(last.at) then
  local added = insertFired(9, ARGV[5], ARGV[6], ARGV[7], idList(ARGV[8]))
  redis.call('HSET', marker, ARGV[3], cjson.encode({ at = ARGV[4], ids = ARGV[8], added = added }))
  result = { 1, added }
elseif last.at == ARGV[4] and last.ids == ARGV[8] then
  result = { 1, last.added }
end