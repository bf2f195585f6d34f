-- ARGV[3]: how many outcomes, then 8 fields each, then optionally a claim: queue, owner, limit,
-- now, lease expiry, offer until (nullable), offer stands ('1' or '0'; see claim). Result:
-- { applied flags, claimed jobs as a JSON array of HGETALL replies, with a claim the next run-at
-- of the queue's scheduled jobs or nil }.

local count = tonumber(ARGV[3])
local applied = {}
for i = 1, count do applied[i] = finish(4 + (i - 1) * OUTCOME_FIELDS) end
local c = 4 + count * OUTCOME_FIELDS
local jobs = {}
-- With a claim, also when the queue's next delayed or failed job is due (false: none), so an idle
-- worker sets its timer without asking again.
local nextDue = false
if ARGV[c] then
  jobs = claim(ARGV[c], ARGV[c + 1], ARGV[c + 2], ARGV[c + 3], ARGV[c + 4], opt(ARGV[c + 5]), ARGV[c + 6])
  local first = redis.call('ZRANGE', queueBase(ARGV[c]) .. ':scheduled', 0, 0, 'WITHSCORES')
  if first[2] then nextDue = first[2] end
end
-- The claimed jobs go back as one JSON text, not as nested replies: one string for the client to
-- decode instead of some fifty per job (its reply decoder, not Redis, was the worker's main cost).
local result = { applied, #jobs > 0 and cjson.encode(jobs) or '[]', nextDue }