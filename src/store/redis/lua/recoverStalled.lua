-- ARGV[3]: now, [4]: queue (nullable: every queue), [5]: owner to leave alone (nullable), [6]: the
-- stalled error, [7]: JSON array of the ids of that owner's leases to leave alone, or '' for all of
-- them (its others are orphans of lost claim replies). Result: id, queue, name, recovered flag per
-- job; recovered ones first.

local now, except, stalledError = ARGV[3], opt(ARGV[5]), ARGV[6]
local held = nil
if ARGV[7] ~= '' then
  held = {}
  for _, heldId in ipairs(cjson.decode(ARGV[7])) do held[tostring(heldId)] = true end
end
local queues = { opt(ARGV[4]) }
if not queues[1] then queues = redis.call('SMEMBERS', G .. ':queues') end
local recovered, buried = {}, {}
for _, queue in ipairs(queues) do
  local base = queueBase(queue)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. ':active', '-inf', '(' .. now)) do
    local key = base .. ':job:' .. id
    local job = redis.call('HMGET', key, 'state', 'leaseOwner', 'attempt', 'startedAt', 'stalls', 'maxStalls',
      'priority', 'runAt', 'dedupeKey', 'failures', 'name')
    if job[1] == 'active' and (job[2] ~= except or (held and not held[id])) then
      local stalls = plusOne(job[5])
      unindex(base, id, 'active', nil)
      redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
      if (tonumber(job[5]) or 0) < tonumber(job[6]) then
        redis.call('HSET', key, 'state', 'waiting', 'stalls', stalls)
        appendHistory(key, runRecord(job[3], 'stalled', job[2], job[4], now))
        index(base, id, 'waiting', job[7], job[8], nil)
        announce(queue)
        for _, v in ipairs({ id, queue, job[11], 1 }) do recovered[#recovered + 1] = v end
      else
        local deadLetter = '{"reason":"stalled","at":' .. now .. ',"failures":' .. (job[10] or '0') .. ',"stalls":' .. stalls
          .. ',"queue":' .. cjson.encode(queue) .. '}'
        redis.call('HSET', key, 'state', 'dead', 'stalls', stalls, 'error', stalledError, 'finishedAt', now,
          'deadLetter', deadLetter)
        appendHistory(key, runRecord(job[3], 'stalled', job[2], job[4], now, stalledError))
        index(base, id, 'dead', nil, nil, now)
        freeKey(base, id, job[9])
        for _, v in ipairs({ id, queue, job[11], 0 }) do buried[#buried + 1] = v end
      end
    end
  end
end
for _, v in ipairs(buried) do recovered[#recovered + 1] = v end
local result = recovered