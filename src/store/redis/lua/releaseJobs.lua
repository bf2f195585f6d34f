-- ARGV[3]: owner, [4]: now, then ids. Result: how many went back to waiting.

local result = 0
for at = 5, #ARGV do
  local id = ARGV[at]
  local base, key, queue = held(id, ARGV[3], nil)
  if base then
    release(base, key, id, queue, ARGV[3], ARGV[4])
    result = result + 1
  end
end