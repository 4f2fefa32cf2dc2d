-- A reshard ends the move of items out of their old shard: an item whose `moving` entry is
-- still what was moved is forgotten there. A writer may have changed it meanwhile
-- (ti_put.lua with KEYS[6]) or removed it (ti_remove.lua): the reshard then applies that in the
-- new shard and asks again.
-- KEYS[1] moving of the OLD shard
-- ARGV: per item two values: item, "<due ms>|<payload>" as moved
-- Returns per item: 1 done, 0 removed meanwhile, or the entry's newer value.
local out = {}
for i = 1, #ARGV, 2 do
  local item = ARGV[i]
  local now = redis.call('HGET', KEYS[1], item)
  if not now then
    out[#out + 1] = 0
  elseif now == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], item)
    out[#out + 1] = 1
  else
    out[#out + 1] = now
  end
end
return out
