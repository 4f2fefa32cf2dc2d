-- Send a finished fire back into delivery (a replay).
-- KEYS[1] fire hash, KEYS[2] the tenant's dead letters zset
-- ARGV[1] now ms, ARGV[2] fire id
-- Returns {'ok', attempt_count, previous status, scheduled ms} when the fire was succeeded
-- or failed (now 'dispatched' and out of the dead letters), {'missing'} without a record,
-- or {'busy', status} while the fire is still in progress.
-- The replay gets a fresh retry budget: `retry_base` (attempts made before it) is where the
-- invoker counts max_attempts from, and max_retry_seconds counts from its first attempt.
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st ~= 'succeeded' and st ~= 'failed' then return {'busy', st} end
redis.call('HSET', KEYS[1], 'status', 'dispatched', 'updated_at', ARGV[1], 'next_attempt_at', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
local count = redis.call('HGET', KEYS[1], 'attempt_count') or '0'
redis.call('HSET', KEYS[1], 'retry_base', count)
redis.call('HDEL', KEYS[1], 'first_attempt_at')
return {'ok', count, st, redis.call('HGET', KEYS[1], 'scheduled_at') or '0'}
