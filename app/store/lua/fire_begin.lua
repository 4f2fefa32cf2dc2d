-- Start attempt ARGV[2] of a fire: at most one attempt of a fire in flight, fleet-wide.
-- KEYS[1] fire hash, KEYS[2] in-flight marker
-- ARGV[1] invoker token, ARGV[2] attempt number, ARGV[3] marker ttl ms, ARGV[4] now ms
-- Returns 'go' (marker taken), 'missing' (no record), 'done' (final status: succeeded,
-- failed, skipped), 'stale' (this attempt number was already recorded: a duplicate copy),
-- or 'busy:<ms left>' (another invoker holds the marker).
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st == 'succeeded' or st == 'failed' or st == 'skipped' then return 'done' end
local count = tonumber(redis.call('HGET', KEYS[1], 'attempt_count') or '0')
if tonumber(ARGV[2]) <= count then return 'stale' end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then
  return 'busy:' .. redis.call('PTTL', KEYS[2])
end
redis.call('HSET', KEYS[1], 'status', 'delivering', 'updated_at', ARGV[4])
if not redis.call('HGET', KEYS[1], 'first_attempt_at') then
  redis.call('HSET', KEYS[1], 'first_attempt_at', ARGV[4])
end
return 'go'
