-- ARGV[3]: queue, [4]: owner, [5]: now, [6]: JSON array of the ids of the jobs the owner knows it
-- holds. Withdraws the owner's offer, and puts back to waiting the queue's other jobs active under
-- its name (see \`releaseOrphans\` in store.ts). Result: the released ids and attempts, flat.

local base, owner = queueBase(ARGV[3]), ARGV[4]
redis.call('HDEL', base .. ':offers', owner)
local result = releaseUnheld(base, ARGV[3], owner, ARGV[5], ARGV[6])