-- The endpoint answered attempt ARGV[1] of a long job (or the request failed).
-- KEYS[1] job hash, KEYS[2] fire hash, KEYS[3] in-flight marker, KEYS[4] tenant slots zset,
-- KEYS[5] the tenant's running jobs zset
-- ARGV[1] attempt, ARGV[2] invoker token (holder of the marker and the slot), ARGV[3] status
-- code ('' = no answer), ARGV[4] response excerpt, ARGV[5] now ms, ARGV[6] '1' = 202,
-- ARGV[7] job id, ARGV[8] ms below which a running job's total timeout is long past (its
-- entry in KEYS[5] is a leftover of an expired job hash: pruned)
-- Returns:
-- {'running', deadline}: a 202 while delivering. The job runs: the fire is `running` with
--   attempt_count = the attempt (so a copy of this attempt is stale), the deadline is the
--   next heartbeat due (now + hb) or the total timeout, whichever is first; the marker and
--   the tenant slot are freed (a running job holds no delivery slot); the job is counted in
--   KEYS[5] (job id -> its total timeout) until an outcome or a new attempt ends it.
-- {'ended'}: the job reported its completion before the answer came: that outcome stands
--   (settle it next); the marker and the slot are freed.
-- {'closed'}: any other answer: the attempt ends the usual way (fire_finish.lua) and later
--   reports for it answer 409; it is not counted as running (even if an earlier answer was a
--   202: a stalled invoker's, whose in-flight marker had lapsed).
-- {'stale'}: the job hash is at another attempt (nothing changed).
local n = tonumber(ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0') ~= n then return {'stale'} end
redis.call('HSET', KEYS[1], 'answered', '1', 'code', ARGV[3], 'excerpt', ARGV[4])
local st = redis.call('HGET', KEYS[1], 'state')

local function free()
  redis.call('ZREM', KEYS[4], ARGV[2])
  if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
end

if st == 'succeeded' or st == 'failed' or st == 'timeout' then
  free()
  return {'ended'}
end
if ARGV[6] ~= '1' or st ~= 'delivering' then
  redis.call('HSET', KEYS[1], 'state', 'closed')
  redis.call('ZREM', KEYS[5], ARGV[7])
  return {'closed'}
end
local now = tonumber(ARGV[5])
local hard = tonumber(redis.call('HGET', KEYS[1], 'hard'))
local hb = tonumber(redis.call('HGET', KEYS[1], 'hb') or '0')
local deadline = hard
if hb > 0 then deadline = math.min(now + hb, hard) end
redis.call('HSET', KEYS[1], 'state', 'running', 'deadline', deadline)
redis.call('ZADD', KEYS[5], hard, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[8])
local count = tonumber(redis.call('HGET', KEYS[2], 'attempt_count') or '0')
if n > count then redis.call('HSET', KEYS[2], 'attempt_count', n) end
redis.call('HSET', KEYS[2], 'status', 'running', 'updated_at', ARGV[5], 'next_attempt_at', '')
free()
return {'running', deadline}
