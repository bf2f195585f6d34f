-- ARGV[3..]: a queue per id wanted (see reserveIds in the library). Result: the first id.

local result = reserveIds(3)