-- Record a finished attempt and the fire's new status; free the marker and the tenant slot.
-- KEYS[1] fire hash, KEYS[2] attempts list, KEYS[3] in-flight marker, KEYS[4] dead letters,
-- KEYS[5] the tenant's delivery slots (zset, see fire_begin.lua),
-- KEYS[6] the schedule's active-fire marker (optional; see fire_create.lua)
-- ARGV[1] invoker token, ARGV[2] attempt JSON, ARGV[3] attempt number, ARGV[4] new status,
-- ARGV[5] now ms, ARGV[6] next attempt ms ('' = none), ARGV[7] fire id, ARGV[8] retention s
-- A fire that already succeeded stays succeeded. At a final status (succeeded, failed) the
-- active-fire marker is cleared if it names this fire. A failed fire (a dead letter) is kept
-- for the retention from now, and its dead-letter entry (scored now) with it: entries
-- scored a retention ago or earlier, whose records expired, are trimmed, and the set
-- expires with its newest entry. Returns the status now stored.
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
redis.call('RPUSH', KEYS[2], ARGV[2])
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
local count = tonumber(redis.call('HGET', KEYS[1], 'attempt_count') or '0')
if tonumber(ARGV[3]) > count then
  redis.call('HSET', KEYS[1], 'attempt_count', ARGV[3])
end
local status = ARGV[4]
if redis.call('HGET', KEYS[1], 'status') == 'succeeded' then status = 'succeeded' end
redis.call('HSET', KEYS[1], 'status', status, 'updated_at', ARGV[5], 'next_attempt_at', ARGV[6])
if status == 'failed' then
  local keep = tonumber(ARGV[8])
  redis.call('EXPIRE', KEYS[1], keep)
  redis.call('EXPIRE', KEYS[2], keep)
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[5]) - keep * 1000)
  redis.call('EXPIRE', KEYS[4], keep)
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if KEYS[6] and (status == 'succeeded' or status == 'failed')
    and redis.call('GET', KEYS[6]) == ARGV[7] then
  redis.call('DEL', KEYS[6])
end
return status
