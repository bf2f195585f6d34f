-- The layout version: raises what is stored to ARGV[3] when it is unset or older (this code reads
-- the older layouts; processes of an older Sundial that start afterwards then refuse the store),
-- and returns what is stored.

local stored = redis.call('GET', G .. ':version')
local storedVersion = stored and tonumber(stored)
if not stored or (storedVersion and storedVersion < tonumber(ARGV[3])) then
  redis.call('SET', G .. ':version', ARGV[3])
end
local result = redis.call('GET', G .. ':version')