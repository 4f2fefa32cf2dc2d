-- During a reshard: write an item in its old shard if it is still there (present, claimed,
-- or being moved), else answer 0 so the writer writes it in its new shard.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending), of the OLD shard
-- KEYS[6] moving   hash  item -> "<due ms>|<payload>" being moved out of this shard
-- ARGV[1] item, ARGV[2] payload ('' = keep), ARGV[3] due ms (-1 = not due)
-- Returns 1 written here, 2 written here while claimed (as ti_put), 0 not here.
local item = ARGV[1]
local moving = redis.call('HGET', KEYS[6], item)
if moving then
  -- the reshard carries this value over when it finishes moving the item
  local payload = ARGV[2]
  if payload == '' then payload = string.match(moving, '^%-?%d+|(.*)$') end
  redis.call('HSET', KEYS[6], item, ARGV[3] .. '|' .. payload)
  return 1
end
if redis.call('HEXISTS', KEYS[4], item) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[4], item, ARGV[2]) end
if redis.call('HEXISTS', KEYS[3], item) == 1 then
  redis.call('HSET', KEYS[5], item, ARGV[3])
  return 2
end
if tonumber(ARGV[3]) < 0 then
  redis.call('ZREM', KEYS[1], item)
else
  redis.call('ZADD', KEYS[1], ARGV[3], item)
end
return 1
