-- ARGV[3..]: jobs of 13 fields; on a Cluster ARGV[3] is first their reserved ids, comma-separated.
-- Result: the jobs' ids, comma-separated, a duplicate's (the holder's id) marked with a leading '!'.

local first, ids = 3, nil
if CLUSTER then first, ids = 4, idList(ARGV[3]) end
local count = (#ARGV - first + 1) / JOB_FIELDS
if not CLUSTER then reserveIdBlock(count) end
deferring = count > 1
local added = {}
for at = first, #ARGV, JOB_FIELDS do
  local id, duplicate = insertAt(at, nil, ids and ids[#added + 1])
  added[#added + 1] = duplicate == 1 and '!' .. id or id
end
-- One text, not a reply per job: cheaper for Redis to send and for the client to read.
local result = table.concat(added, ',')