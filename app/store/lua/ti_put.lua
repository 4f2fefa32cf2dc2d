-- Write an item of the time index (a schedule's next fire, a retry, a deferral, a message).
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending)
-- KEYS[6] (only during a reshard, with KEYS[1..5] of the item's OLD shard) moving: hash
--         item -> "<due ms>|<payload>" being moved out of that shard; the item is then
--         written there only if it is still there (present, claimed or being moved)
-- ARGV[1] item, ARGV[2] payload ('' = re-time an existing item only: keep its payload),
-- ARGV[3] due ms (-1 = not due: paused or ended)
-- Returns 1 written, 2 the item is claimed right now: the instant is kept in `pending` and
-- applied when the claim completes or its lease expires (the writer's instant wins),
-- 0 nothing to re-time (no such item), or with KEYS[6]: not in the old shard (the writer
-- writes it in its new shard).
local item = ARGV[1]
if KEYS[6] then
  local moving = redis.call('HGET', KEYS[6], item)
  if moving then
    -- the reshard carries this value over when it finishes moving the item
    local payload = ARGV[2]
    if payload == '' then payload = string.match(moving, '^%-?%d+|(.*)$') end
    redis.call('HSET', KEYS[6], item, ARGV[3] .. '|' .. payload)
    return 1
  end
  if redis.call('HEXISTS', KEYS[4], item) == 0 then return 0 end
end
if ARGV[2] == '' then
  if redis.call('HEXISTS', KEYS[4], item) == 0 then return 0 end
else
  redis.call('HSET', KEYS[4], item, ARGV[2])
end
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
