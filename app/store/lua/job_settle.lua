-- Apply the outcome of attempt ARGV[1] of a long job to its fire, once.
-- KEYS[1] job hash, KEYS[2] fire hash, KEYS[3] attempts list, KEYS[4] dead letters,
-- KEYS[5] the schedule's active-fire marker (optional; see fire_create.lua)
-- ARGV[1] attempt, ARGV[2] attempt JSON, ARGV[3] the fire's new status (succeeded,
-- retrying, failed), ARGV[4] now ms, ARGV[5] next attempt ms ('' = none), ARGV[6] fire id,
-- ARGV[7] retention s
-- Returns 'done' when that attempt's outcome was applied already (a second settle: nothing
-- changes), 'missing' without a fire record, else the status now stored. As in
-- fire_finish.lua, a succeeded fire stays succeeded, and a final status clears the
-- active-fire marker if it names this fire; a failed fire (record, attempts, job) and its
-- dead-letter entry are kept for the retention from now, older entries trimmed.
local n = tonumber(ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'applied') or '0') >= n then return 'done' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
redis.call('HSET', KEYS[1], 'applied', n)
redis.call('RPUSH', KEYS[3], ARGV[2])
local ttl = redis.call('TTL', KEYS[2])
if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
local count = tonumber(redis.call('HGET', KEYS[2], 'attempt_count') or '0')
if n > count then redis.call('HSET', KEYS[2], 'attempt_count', n) end
local status = ARGV[3]
if redis.call('HGET', KEYS[2], 'status') == 'succeeded' then status = 'succeeded' end
redis.call('HSET', KEYS[2], 'status', status, 'updated_at', ARGV[4], 'next_attempt_at', ARGV[5])
if status == 'failed' then
  local keep = tonumber(ARGV[7])
  redis.call('EXPIRE', KEYS[1], keep)
  redis.call('EXPIRE', KEYS[2], keep)
  redis.call('EXPIRE', KEYS[3], keep)
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[4]) - keep * 1000)
  redis.call('EXPIRE', KEYS[4], keep)
end
if KEYS[5] and (status == 'succeeded' or status == 'failed')
    and redis.call('GET', KEYS[5]) == ARGV[6] then
  redis.call('DEL', KEYS[5])
end
return status
