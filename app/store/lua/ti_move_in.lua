-- A reshard puts items into their new shard, each only if it is not there already.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending), of the NEW shard
-- ARGV: per item three values: item, due ms (-1 = not due), payload
-- Returns per item 1 put, 0 already there (left as it is).
local out = {}
for i = 1, #ARGV, 3 do
  local item = ARGV[i]
  if redis.call('HEXISTS', KEYS[4], item) == 1 then
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[4], item, ARGV[i + 2])
    if tonumber(ARGV[i + 1]) >= 0 then redis.call('ZADD', KEYS[1], ARGV[i + 1], item) end
    out[#out + 1] = 1
  end
end
return out
