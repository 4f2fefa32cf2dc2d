-- Remove an item from the time index (schedule deleted). A claim in flight finds the item
-- gone when it completes and changes nothing.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending)
-- KEYS[6] (optional) moving: during a reshard, an item being moved out of this shard is
-- dropped there too, so the reshard does not carry it to its new shard
-- ARGV[1] item
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if KEYS[6] then redis.call('HDEL', KEYS[6], ARGV[1]) end
return 1
