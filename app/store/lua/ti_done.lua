-- Complete a claimed item, fenced by the owner token.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending)
-- ARGV[1] item, ARGV[2] owner, ARGV[3] next due ms (-1 = item is finished),
-- ARGV[4] new payload ('' = keep)
-- Returns 1 advanced, 0 lease lost (another dispatcher owns it now: change nothing),
-- 2 item deleted meanwhile, 3 a writer re-timed it meanwhile (its instant wins).
local item = ARGV[1]
local c = redis.call('HGET', KEYS[3], item)
if not c or string.sub(c, 1, #ARGV[2] + 1) ~= ARGV[2] .. '|' then return 0 end
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
local nxt = tonumber(ARGV[3])
if nxt < 0 then
  redis.call('HDEL', KEYS[4], item)
else
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], item, ARGV[4]) end
  redis.call('ZADD', KEYS[1], nxt, item)
end
return 1
