-- ARGV[3..]: as updateIndex in the library.

updateIndex(3)
local result = 1