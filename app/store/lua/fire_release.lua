-- Give up an attempt that was begun but not made (an invoker stopped mid-attempt): drop the
-- fire's in-flight marker and the tenant's delivery slot without recording an attempt, so
-- the requeued copy goes at once instead of after the marker's TTL.
-- KEYS[1] fire hash, KEYS[2] in-flight marker, KEYS[3] tenant slots zset
-- ARGV[1] invoker token
-- Returns 1 released, 0 the marker is not this invoker's (expired, or taken by another).
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'status') == 'delivering' then
  redis.call('HSET', KEYS[1], 'status', 'dispatched')
end
return 1
