-- Remove an item from the time index (schedule deleted). A claim in flight finds the item
-- gone when it completes and changes nothing.
-- KEYS[1..5] as in ti_claim.lua (due, lease, claimed, items, pending)
-- ARGV[1] item
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
