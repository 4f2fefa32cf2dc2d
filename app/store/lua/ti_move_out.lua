-- A reshard takes items out of their old shard: each item that is here and not claimed
-- leaves the due set and the payloads and waits in `moving` until it is in its new shard.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending), KEYS[6] moving
-- ARGV: the items
-- Returns per item taken {item, due ms (-1 = not due), payload}, then the count of items
-- left because they are claimed (a later pass takes them) as the last element.
local out = {}
local claimed = 0
for _, item in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[3], item) == 1 then
    claimed = claimed + 1
  else
    local payload = redis.call('HGET', KEYS[4], item)
    if payload then
      local due = redis.call('ZSCORE', KEYS[1], item) or '-1'
      redis.call('ZREM', KEYS[1], item)
      redis.call('HDEL', KEYS[4], item)
      redis.call('HSET', KEYS[6], item, due .. '|' .. payload)
      out[#out + 1] = item
      out[#out + 1] = due
      out[#out + 1] = payload
    end
  end
end
out[#out + 1] = claimed
return out
