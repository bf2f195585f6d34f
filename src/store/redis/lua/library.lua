-- The functions and tables every script may use; the linker (lua-linker.ts) puts before each
-- script only what it calls. Conventions: see scripts.ts.
local LIVE = { waiting = true, delayed = true, failed = true, active = true }
local FINISHED = { completed = true, dead = true, cancelled = true }

local announcedSet, announced = {}, {}
local function announce(name)
  if announcedSet[name] then return end
  announcedSet[name] = true
  announced[#announced + 1] = name
  redis.call('PUBLISH', wakeChannel(name), ORIGIN)
end

local function int(n) return string.format('%d', n) end

local function opt(value)
  if value == '' then return false end
  return string.sub(value, 2)
end

-- Members of the waiting set: equal scores (one priority) sort by member, so run-at then id,
-- both fixed width (run-at shifted by 1e15 so times before 1970 still sort).
local function waitMember(runAt, id)
  return string.format('%016d:%015d', tonumber(runAt) + 1e15, tonumber(id))
end
local function idOfMember(member) return int(tonumber(string.sub(member, 18))) end

-- The index entries of the jobs this script inserts are written when it ends, one command per key
-- (a batch of adds writes each of its sets once instead of once per job; a call into Redis costs
-- more than adding one more member to it). Nothing reads those sets in between, except what
-- flushes first: the direct handoff, and any later step that moves a job out of its sets.
local deferredKeys, deferred = {}, {}
-- Set by a script that adds several jobs; one job's writes gain nothing from waiting.
local deferring = false
local WRITE_CHUNK = 4000 -- arguments per command: well under what unpack may put on Lua's stack

-- `command` is ZADD or HSET; a key is only ever written by one of them.
local function writeLater(command, key, a, b)
  if not deferring then
    redis.call(command, key, a, b)
    return
  end
  local list = deferred[key]
  if not list then
    list = { command = command }
    deferred[key] = list
    deferredKeys[#deferredKeys + 1] = key
  end
  list[#list + 1] = a
  list[#list + 1] = b
end

local function flushWrites()
  if #deferredKeys == 0 then return end
  for _, key in ipairs(deferredKeys) do
    local list = deferred[key]
    for i = 1, #list, WRITE_CHUNK do
      redis.call(list.command, key, unpack(list, i, math.min(i + WRITE_CHUNK - 1, #list)))
    end
  end
  deferredKeys, deferred = {}, {}
end

-- Takes a job out of the sets of its state.
local function unindex(base, id, state, runAt)
  flushWrites()
  redis.call('ZREM', base .. ':state:' .. state, id)
  if state == 'waiting' then
    redis.call('ZREM', base .. ':waiting', waitMember(runAt, id))
  elseif state == 'delayed' or state == 'failed' then
    redis.call('ZREM', base .. ':scheduled', id)
  elseif state == 'active' then
    redis.call('ZREM', base .. ':active', id)
  else
    redis.call('ZREM', base .. ':finished:' .. state, id)
  end
end

-- Puts a job into the sets of its state; `at` is the lease expiry (active) or finish time (finished).
local function index(base, id, state, priority, runAt, at)
  redis.call('ZADD', base .. ':state:' .. state, id, id)
  if state == 'waiting' then
    redis.call('ZADD', base .. ':waiting', -tonumber(priority), waitMember(runAt, id))
  elseif state == 'delayed' or state == 'failed' then
    redis.call('ZADD', base .. ':scheduled', runAt, id)
  elseif state == 'active' then
    redis.call('ZADD', base .. ':active', at, id)
  else
    redis.call('ZADD', base .. ':finished:' .. state, at, id)
  end
end

-- Puts a job just inserted (waiting or delayed) into its sets when the script ends.
local function indexNew(base, id, state, priority, runAt)
  writeLater('ZADD', base .. ':all', id, id)
  writeLater('ZADD', base .. ':state:' .. state, id, id)
  if state == 'waiting' then
    writeLater('ZADD', base .. ':waiting', -tonumber(priority), waitMember(runAt, id))
  else
    writeLater('ZADD', base .. ':scheduled', runAt, id)
  end
end

-- A count field of the job hash, absent while it is zero, plus one.
local function plusOne(count) return int((tonumber(count) or 0) + 1) end

-- A job leaving the live states gives up its dedupe key (if it, not a newer job, holds it).
local function freeKey(base, id, dedupeKey)
  if dedupeKey and redis.call('HGET', base .. ':dedupe', dedupeKey) == id then
    redis.call('HDEL', base .. ':dedupe', dedupeKey)
  end
end

-- The history JSON array with one more record (a job that has none yet holds no history field).
local function withRecord(history, record)
  if not history or history == '[]' then return '[' .. record .. ']' end
  return string.sub(history, 1, -2) .. ',' .. record .. ']'
end

local function appendHistory(key, record)
  redis.call('HSET', key, 'history', withRecord(redis.call('HGET', key, 'history'), record))
end

-- The attempt record of a run the store ends itself (released, stalled, cancelled).
local function runRecord(attempt, outcome, worker, startedAt, finishedAt, errorJson)
  local record = '{"attempt":' .. attempt .. ',"outcome":"' .. outcome .. '","worker":' .. cjson.encode(worker)
    .. ',"startedAt":' .. (startedAt or 'null') .. ',"finishedAt":' .. finishedAt
  if errorJson then record = record .. ',"error":' .. errorJson end
  return record .. '}'
end

-- The queue's keys and the job's key, from the id alone; false for an unknown id. On a Cluster the
-- client found the queue (the id index is in another slot) and sent the script to it as KEYS[1].
local function locate(id)
  flushWrites()
  local queue
  if CLUSTER then
    queue = redis.call('HGET', KEYS[1] .. ':job:' .. id, 'queue')
  else
    queue = redis.call('HGET', G .. ':jobs', id)
  end
  if not queue then return false end
  local base = queueBase(queue)
  return base, base .. ':job:' .. id, queue
end

-- Queues this script has listed in G:queues already: a batch of adds lists its queue once.
local listedQueues = {}
local function listQueue(queue)
  if listedQueues[queue] then return end
  redis.call('SADD', G .. ':queues', queue)
  listedQueues[queue] = true
end

-- The global indexes of jobs a schedule fired (for latestRuns) and of ids (for finding a job by id).
local function indexRun(id, schedule)
  redis.call('ZADD', G .. ':runs:' .. schedule, id, id)
  redis.call('SADD', G .. ':runs', schedule)
end

local function forgetJob(id, schedule)
  if schedule and schedule ~= '' then
    local runs = G .. ':runs:' .. schedule
    redis.call('ZREM', runs, id)
    if redis.call('ZCARD', runs) == 0 then redis.call('SREM', G .. ':runs', schedule) end
  end
  redis.call('HDEL', G .. ':jobs', id)
end

-- New job ids (single Redis). A batch of adds takes a block of them with one INCRBY
-- (reserveIdBlock); the ids it did not use (duplicates) go back when the script ends, which no other
-- client can see happen, so ids stay gapless and increasing.
local idBlock = { nextId = 1, last = 0 }
local function reserveIdBlock(count)
  local last = redis.call('INCRBY', G .. ':ids', count)
  idBlock = { nextId = last - count + 1, last = last }
end
local function newId()
  if idBlock.nextId > idBlock.last then return int(redis.call('INCR', G .. ':ids')) end
  local id = idBlock.nextId
  idBlock.nextId = id + 1
  return int(id)
end
local function returnUnusedIds()
  if idBlock.nextId <= idBlock.last then redis.call('SET', G .. ':ids', int(idBlock.nextId - 1)) end
end

-- The global steps of a Cluster's changes. Reserves consecutive ids for the queues named from
-- ARGV[from] on (one per id), each indexed to its queue before its job exists (which reads as not
-- found), and lists the queues; returns the first id.
local function reserveIds(from)
  local count = #ARGV - from + 1
  local first = redis.call('INCRBY', G .. ':ids', count) - count + 1
  for i = 0, count - 1 do
    redis.call('HSET', G .. ':jobs', int(first + i), ARGV[from + i])
    listQueue(ARGV[from + i])
  end
  return int(first)
end

-- From ARGV[at]: how many id and schedule pairs to add to the runs index, those pairs, then id and
-- schedule ('' for none) pairs to forget: ids reserved but not used, or of deleted jobs.
local function updateIndex(at)
  local forget = at + 1 + 2 * tonumber(ARGV[at])
  for i = at + 1, forget - 1, 2 do indexRun(ARGV[i], ARGV[i + 1]) end
  for i = forget, #ARGV, 2 do forgetJob(ARGV[i], ARGV[i + 1]) end
end

-- Makes a waiting job (already out of the waiting set) active under `owner`; returns its fields.
local function activate(base, id, owner, now, leaseExpiresAt)
  local key = base .. ':job:' .. id
  redis.call('ZREM', base .. ':state:waiting', id)
  redis.call('HINCRBY', key, 'attempt', 1)
  redis.call('HSET', key, 'state', 'active', 'leaseOwner', owner, 'leaseExpiresAt', leaseExpiresAt,
    'startedAt', now)
  index(base, id, 'active', nil, nil, leaseExpiresAt)
  return redis.call('HGETALL', key)
end

-- Direct handoff (single Redis): an add whose job is the only one claimable in its queue claims it
-- at once for a worker that offered free slots and is still listening, and sends it the job on its
-- channel, so the worker starts it without a wake-up and a claim round trip. The jobs go out when
-- the script ends, one message per worker (deliverHandoffs).
local HANDOFF_MAX_PAYLOAD = 65536
-- What one script may publish to one worker: its wake-up connection must stay well under Redis's
-- output buffer limit for subscribers (32 MB, or 8 MB for a minute), or Redis drops it.
local HANDOFF_MAX_MESSAGE = 262144
local handed, handedOwners, handedBytes = {}, {}, {}
local noOffers = {}

-- The live offer with the most free slots (owner, free, untilAt, leaseMs), or nil. Drops the offers
-- that expired, and, asking only about the best one so far (one pub/sub lookup per add, however many
-- workers offer), those whose worker no longer listens (its process died: Redis dropped its
-- subscription with the connection).
local function bestOffer(base, now)
  local offers = redis.call('HGETALL', base .. ':offers')
  local candidates = {}
  for i = 1, #offers, 2 do
    local owner, offer = offers[i], offers[i + 1]
    local free, untilAt, leaseMs = string.match(offer, '^(%d+):(%d+):(%d+)$')
    if not free or tonumber(untilAt) < tonumber(now) then
      redis.call('HDEL', base .. ':offers', owner)
    else
      candidates[#candidates + 1] = { owner = owner, free = tonumber(free), untilAt = untilAt, leaseMs = leaseMs }
    end
  end
  while #candidates > 0 do
    local at = 1
    for i = 2, #candidates do
      if candidates[i].free > candidates[at].free then at = i end
    end
    local best = candidates[at]
    if handed[best.owner] or redis.call('PUBSUB', 'NUMSUB', handChannel(best.owner))[2] > 0 then return best end
    redis.call('HDEL', base .. ':offers', best.owner)
    table.remove(candidates, at)
  end
  return nil
end

-- Hands the job just inserted as waiting to an offering worker, if nothing else is claimable before
-- it; true when it did (the job is then active, and nobody needs waking).
local function handOff(base, queue, id, now, payloadLength)
  if CLUSTER or noOffers[queue] or payloadLength > HANDOFF_MAX_PAYLOAD then return false end
  if redis.call('HLEN', base .. ':offers') == 0 then
    noOffers[queue] = true
    return false
  end
  flushWrites()
  if redis.call('ZCARD', base .. ':waiting') ~= 1 or redis.call('GET', base .. ':paused') == '1'
    or #redis.call('ZRANGEBYSCORE', base .. ':scheduled', '-inf', now, 'LIMIT', 0, 1) > 0 then
    -- None of these clears before the script ends: the batch's later jobs of this queue wait too,
    -- and keep their writes deferred.
    noOffers[queue] = true
    return false
  end
  local offer = bestOffer(base, now)
  if not offer then
    noOffers[queue] = true
    return false
  end
  local owner = offer.owner
  if (handedBytes[owner] or 0) + payloadLength > HANDOFF_MAX_MESSAGE then return false end
  handedBytes[owner] = (handedBytes[owner] or 0) + payloadLength
  redis.call('ZPOPMIN', base .. ':waiting')
  local job = activate(base, id, owner, now, int(tonumber(now) + tonumber(offer.leaseMs)))
  if offer.free > 1 then
    redis.call('HSET', base .. ':offers', owner, int(offer.free - 1) .. ':' .. offer.untilAt .. ':' .. offer.leaseMs)
  else
    redis.call('HDEL', base .. ':offers', owner)
  end
  if not handed[owner] then
    handed[owner] = {}
    handedOwners[#handedOwners + 1] = owner
  end
  table.insert(handed[owner], job)
  return true
end

local function deliverHandoffs()
  for _, owner in ipairs(handedOwners) do
    redis.call('PUBLISH', handChannel(owner), cjson.encode(handed[owner]))
  end
end

-- What every script does last: the writes it deferred, and the handed jobs sent.
local function finishScript()
  flushWrites()
  returnUnusedIds()
  deliverHandoffs()
end

-- Inserts one job unless a live job of its queue holds its dedupe key; returns the id and 1 for a
-- duplicate (the holder's id) or 0. `presetId`: the id the client reserved (Cluster), else nil.
local function insert(queue, name, payload, state, priority, runAt, maxAttempts, backoff, timeout, dedupeKey,
    maxStalls, origin, createdAt, presetId)
  local base = queueBase(queue)
  -- A script sent again after its answer was lost finds the job it inserted: the same answer, and
  -- nothing changed (the job may have been claimed since).
  if presetId and redis.call('EXISTS', base .. ':job:' .. presetId) == 1 then return presetId, 0 end
  if dedupeKey then
    local holder = redis.call('HGET', base .. ':dedupe', dedupeKey)
    if holder then return holder, 1 end
  end
  local id = presetId or newId()
  local key = base .. ':job:' .. id
  -- Counts still at zero (attempt, failures, stalls) and the empty history are left out: each field
  -- costs every add (see jobFromHash in jobs.ts).
  redis.call('HSET', key, 'id', id, 'queue', queue, 'name', name, 'payload', payload, 'state', state,
    'priority', priority, 'runAt', runAt, 'maxAttempts', maxAttempts, 'backoff', backoff,
    'maxStalls', maxStalls, 'createdAt', createdAt)
  if timeout then redis.call('HSET', key, 'timeout', timeout) end
  if dedupeKey then
    redis.call('HSET', key, 'dedupeKey', dedupeKey)
    redis.call('HSET', base .. ':dedupe', dedupeKey, id)
  end
  if origin then
    redis.call('HSET', key, 'origin', origin)
    -- Jobs a schedule fired are indexed by schedule, for latestRuns.
    local ok, parsed = pcall(cjson.decode, origin)
    if ok and type(parsed) == 'table' and type(parsed.schedule) == 'string' then
      redis.call('HSET', key, 'schedule', parsed.schedule)
      if not CLUSTER then indexRun(id, parsed.schedule) end
    end
  end
  if not CLUSTER then
    writeLater('HSET', G .. ':jobs', id, queue)
    listQueue(queue)
  end
  indexNew(base, id, state, priority, runAt)
  if state ~= 'waiting' or not handOff(base, queue, id, createdAt, #payload) then announce(queue) end
  return id, 0
end

local JOB_FIELDS = 13
-- Inserts the job whose 13 fields start at ARGV[at]; `keySuffix` is added to its dedupe key.
local function insertAt(at, keySuffix, presetId)
  local dedupeKey = opt(ARGV[at + 9])
  if dedupeKey and keySuffix then dedupeKey = dedupeKey .. keySuffix end
  return insert(ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6],
    ARGV[at + 7], opt(ARGV[at + 8]), dedupeKey, ARGV[at + 10], opt(ARGV[at + 11]), ARGV[at + 12], presetId)
end

-- The ids a client reserved, comma-separated (Cluster), as a list.
local function idList(text)
  local ids = {}
  for id in string.gmatch(text, '%d+') do ids[#ids + 1] = id end
  return ids
end

local function deleteJob(base, key, id)
  local job = redis.call('HMGET', key, 'state', 'runAt', 'dedupeKey', 'schedule')
  if job[1] then unindex(base, id, job[1], job[2]) end
  redis.call('ZREM', base .. ':all', id)
  freeKey(base, id, job[3])
  if CLUSTER then
    forgotten[#forgotten + 1] = id
    forgotten[#forgotten + 1] = job[4] or ''
  else
    forgetJob(id, job[4])
  end
  redis.call('DEL', key)
end

-- A queue is listed while it has jobs or a pause flag. (On a Cluster the list is in another slot,
-- and a queue stays listed once it was used: forgetting it here could race an add elsewhere.)
local function forgetQueueIfEmpty(base, queue)
  if CLUSTER then return end
  if redis.call('ZCARD', base .. ':all') == 0 and redis.call('EXISTS', base .. ':paused') == 0 then
    redis.call('SREM', G .. ':queues', queue)
  end
end

local function promoteDue(base, now)
  local due = redis.call('ZRANGEBYSCORE', base .. ':scheduled', '-inf', now)
  for _, id in ipairs(due) do
    local key = base .. ':job:' .. id
    local job = redis.call('HMGET', key, 'state', 'priority', 'runAt')
    unindex(base, id, job[1], job[3])
    redis.call('HSET', key, 'state', 'waiting')
    index(base, id, 'waiting', job[2], job[3], nil)
  end
end

-- `offerUntil` (or false): the claiming worker offers the slots the claim leaves free to the adds
-- that come before then (see handOff), replacing its earlier offer; a full claim withdraws it.
-- With `stands` ('1') a claim that takes nothing leaves the earlier offer as it is
-- (ClaimRequest.offerStands).
local function claim(queue, owner, limit, now, leaseExpiresAt, offerUntil, stands)
  local base = queueBase(queue)
  promoteDue(base, now)
  limit = tonumber(limit)
  if limit < 1 or redis.call('GET', base .. ':paused') == '1' then return {} end
  -- Lowest score first, ties by member: the claim order (see waitMember).
  local popped = redis.call('ZPOPMIN', base .. ':waiting', limit)
  local jobs = {}
  for i = 1, #popped, 2 do
    jobs[#jobs + 1] = activate(base, idOfMember(popped[i]), owner, now, leaseExpiresAt)
  end
  -- A standing offer that is gone (lapsed, or dropped as its worker seemed away) is written anew.
  local leaveStanding = stands == '1' and #jobs == 0 and redis.call('HEXISTS', base .. ':offers', owner) == 1
  if offerUntil and not leaveStanding then
    if #jobs < limit then
      redis.call('HSET', base .. ':offers', owner,
        int(limit - #jobs) .. ':' .. offerUntil .. ':' .. int(tonumber(leaseExpiresAt) - tonumber(now)))
    else
      redis.call('HDEL', base .. ':offers', owner)
    end
  end
  return jobs
end

-- Puts an active job back to waiting, with a `released` record (a worker gives it back: closing,
-- or no room for it after all).
local function release(base, key, id, queue, owner, now)
  local job = redis.call('HMGET', key, 'attempt', 'startedAt', 'priority', 'runAt')
  unindex(base, id, 'active', nil)
  redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
  redis.call('HSET', key, 'state', 'waiting')
  appendHistory(key, runRecord(job[1], 'released', owner, job[2], now))
  index(base, id, 'waiting', job[3], job[4], nil)
  announce(queue)
end

-- Releases the jobs of a queue active under `owner` other than those in `heldJson` (a JSON array
-- of ids); returns them as id and attempt, one after the other.
local function releaseUnheld(base, queue, owner, now, heldJson)
  local known = {}
  for _, id in ipairs(cjson.decode(heldJson)) do known[tostring(id)] = true end
  local released = {}
  for _, id in ipairs(redis.call('ZRANGE', base .. ':active', 0, -1)) do
    local key = base .. ':job:' .. id
    if not known[id] and redis.call('HGET', key, 'leaseOwner') == owner then
      released[#released + 1] = id
      released[#released + 1] = redis.call('HGET', key, 'attempt')
      release(base, key, id, queue, owner, now)
    end
  end
  return released
end

-- The job if `owner` holds this run of it: its keys and queue, else false.
local function held(id, owner, attempt)
  local base, key, queue = locate(id)
  if not base then return false end
  local job = redis.call('HMGET', key, 'state', 'leaseOwner', 'attempt')
  if job[1] ~= 'active' or job[2] ~= owner or (attempt and job[3] ~= attempt) then return false end
  return base, key, queue
end

local OUTCOME_FIELDS = 8
-- Applies the outcome whose fields start at ARGV[at]: kind, id, owner, attempt, finishedAt, record,
-- then result (completed), runAt and error (retry), or error and dead letter (dead). Returns 1 or 0.
-- (The busiest script after the claim: one read of the job and one write of each kind.)
local function finish(at)
  local kind, id, finishedAt = ARGV[at], ARGV[at + 1], ARGV[at + 4]
  local base, key, queue = locate(id)
  if not base then return 0 end
  local job = redis.call('HMGET', key, 'state', 'leaseOwner', 'attempt', 'dedupeKey', 'failures', 'history')
  if job[1] ~= 'active' or job[2] ~= ARGV[at + 2] or job[3] ~= ARGV[at + 3] then return 0 end
  unindex(base, id, 'active', nil)
  local history = withRecord(job[6], ARGV[at + 5])
  if kind == 'completed' then
    redis.call('HSET', key, 'state', 'completed', 'result', ARGV[at + 6], 'finishedAt', finishedAt,
      'history', history)
    redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt', 'error')
    index(base, id, 'completed', nil, nil, finishedAt)
    freeKey(base, id, job[4])
  elseif kind == 'retry' then
    redis.call('HSET', key, 'state', 'failed', 'runAt', ARGV[at + 6], 'failures', plusOne(job[5]),
      'error', ARGV[at + 7], 'history', history)
    redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
    index(base, id, 'failed', nil, ARGV[at + 6], nil)
    -- Workers elsewhere re-arm their timers to the retry.
    announce(queue)
  else
    redis.call('HSET', key, 'state', 'dead', 'failures', plusOne(job[5]), 'error', ARGV[at + 6],
      'deadLetter', ARGV[at + 7], 'finishedAt', finishedAt, 'history', history)
    redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
    index(base, id, 'dead', nil, nil, finishedAt)
    freeKey(base, id, job[4])
  end
  return 1
end

-- Ends a job as cancelled; a running one gets a cancelled record and its worker is told.
local function cancel(base, key, id, now)
  local job = redis.call('HMGET', key, 'state', 'runAt', 'leaseOwner', 'attempt', 'startedAt', 'dedupeKey')
  unindex(base, id, job[1], job[2])
  if job[1] == 'active' then
    appendHistory(key, runRecord(job[4], 'cancelled', job[3], job[5], now))
    announce(CANCELS)
  end
  redis.call('HDEL', key, 'leaseOwner', 'leaseExpiresAt')
  redis.call('HSET', key, 'state', 'cancelled', 'finishedAt', now)
  index(base, id, 'cancelled', nil, nil, now)
  freeKey(base, id, job[6])
end

-- The job of `queue` if its state is one of ARGV[from..]: its keys and state, or false and the
-- refusal to return.
local function transitionable(queue, id, from)
  local base = queueBase(queue)
  local key = base .. ':job:' .. id
  local state = redis.call('HGET', key, 'state')
  if not state then return false, { 'not_found' } end
  for i = from, #ARGV do
    if ARGV[i] == state then return base, key, state end
  end
  return false, { 'state', state }
end

-- Inserts a fire's jobs (13 fields each, from ARGV[first] to the end). With `whenActive`, a job whose
-- key is held by a run still going is buffered behind it or replaces it (see FireScheduleRequest).
-- `ids`: two reserved ids per job, for its insert and its buffered or replacing one (Cluster), or nil.
-- Returns an id, duplicate flag and replaced id ('' for none) per job.
local function insertFired(first, whenActive, suffix, firedAt, ids)
  local added = {}
  for at = first, #ARGV, JOB_FIELDS do
    local n = #added + 1
    local jobId, duplicate = insertAt(at, nil, ids and ids[2 * n - 1])
    added[n] = { jobId, duplicate, '' }
  end
  if whenActive == '' then return added end
  for i, entry in ipairs(added) do
    local at = first + (i - 1) * JOB_FIELDS
    if entry[2] == 1 then
      local base = queueBase(ARGV[at])
      local holderKey = base .. ':job:' .. entry[1]
      if redis.call('HGET', holderKey, 'state') == 'active' then
        if whenActive == 'replace' then
          cancel(base, holderKey, entry[1], firedAt)
          local jobId, duplicate = insertAt(at, nil, ids and ids[2 * i])
          added[i] = { jobId, duplicate, entry[1] }
        else
          local jobId, duplicate = insertAt(at, suffix, ids and ids[2 * i])
          added[i] = { jobId, duplicate, '' }
        end
      end
    end
  end
  return added
end

local function scheduleDue(id, nextRunAt, paused)
  if nextRunAt and paused ~= '1' then
    redis.call('ZADD', G .. ':schedules-due', nextRunAt, id)
  else
    redis.call('ZREM', G .. ':schedules-due', id)
  end
end
