-- Complete claimed items of one shard, each fenced by the owner token.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending)
-- ARGV[1] owner, then per item three values: item, next due ms (-1 = the item is
-- finished), new payload ('' = keep)
-- Returns, per item: 1 advanced, 0 lease lost (another dispatcher owns it now: change
-- nothing), 2 item deleted meanwhile, 3 a writer re-timed it meanwhile (its instant wins).
local owner = ARGV[1]
local fence = owner .. '|'
local out = {}

local function done(item, nxt, payload)
  local c = redis.call('HGET', KEYS[3], item)
  if not c or string.sub(c, 1, #fence) ~= fence then return 0 end
  redis.call('ZREM', KEYS[2], item)
  redis.call('HDEL', KEYS[3], item)
  if redis.call('HEXISTS', KEYS[4], item) == 0 then
    redis.call('HDEL', KEYS[5], item)
    return 2
  end
  local p = redis.call('HGET', KEYS[5], item)
  if p then
    redis.call('HDEL', KEYS[5], item)
    if tonumber(p) >= 0 then redis.call('ZADD', KEYS[1], p, item) end
    return 3
  end
  if nxt < 0 then
    redis.call('HDEL', KEYS[4], item)
  else
    if payload ~= '' then redis.call('HSET', KEYS[4], item, payload) end
    redis.call('ZADD', KEYS[1], nxt, item)
  end
  return 1
end

for i = 2, #ARGV, 3 do
  out[#out + 1] = done(ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2])
end
return out
