-- ARGV[3]: id, [4]: queue, [5]: now, then the states it may leave.

local id, queue, now = ARGV[3], ARGV[4], ARGV[5]
local base, key = transitionable(queue, id, 6)
local result = key
if base then
  local job = redis.call('HMGET', key, 'state', 'runAt', 'priority', 'dedupeKey')
  local holder = false
  if job[4] and not LIVE[job[1]] then holder = redis.call('HGET', base .. ':dedupe', job[4]) end
  if holder then
    result = { 'duplicate', holder }
  else
    unindex(base, id, job[1], job[2])
    redis.call('HSET', key, 'state', 'waiting', 'runAt', now, 'failures', '0', 'stalls', '0')
    redis.call('HDEL', key, 'deadLetter', 'finishedAt')
    index(base, id, 'waiting', job[3], now, nil)
    if job[4] then redis.call('HSET', base .. ':dedupe', job[4], id) end
    announce(queue)
    result = { 'ok', redis.call('HGETALL', key) }
  end
end