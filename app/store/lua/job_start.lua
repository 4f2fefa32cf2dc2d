-- Begin attempt ARGV[1] of a long job, before its request is sent: the attempt's state and
-- the hash of its bearer token (app/jobs/tokens.py).
-- KEYS[1] job hash, KEYS[2] fire hash (the job hash expires with it), KEYS[3] the tenant's
-- running jobs zset (a job delivering again is no longer counted as running)
-- ARGV[1] attempt, ARGV[2] token hash, ARGV[3] now ms, ARGV[4] job timeout ms,
-- ARGV[5] heartbeat ms (0 = none), ARGV[6] job id
-- Returns 'go' (a new attempt; or the same attempt again after an invoker died mid-request:
-- the tokens it already handed out stay valid beside the new one), 'ended' (this attempt
-- already has its outcome, reported before the answer: settle it, send nothing), or
-- 'stale' (a newer attempt exists).
-- Fields: attempt, state (delivering | running | closed | succeeded | failed | timeout),
-- started_at, hard (started_at + timeout), deadline (when the watch ends it), hb,
-- tk:<attempt> (token hashes, space separated; kept for every attempt so a report with an
-- old attempt's token is recognised and answered 409), answered/code/excerpt (the HTTP
-- answer), progress/progress_at/beats, result/done/retry/ended_at (the completion),
-- applied (the last attempt whose outcome the fire record holds), late (refused reports).
local n = tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
if cur > n then return 'stale' end
local tk = 'tk:' .. ARGV[1]
if cur == n then
  local st = redis.call('HGET', KEYS[1], 'state')
  if st == 'succeeded' or st == 'failed' or st == 'timeout' then return 'ended' end
  local old = redis.call('HGET', KEYS[1], tk) or ''
  redis.call('HSET', KEYS[1], tk, old .. ' ' .. ARGV[2], 'state', 'delivering')
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('HDEL', KEYS[1], 'answered', 'code', 'excerpt')
  return 'go'
end
redis.call('HDEL', KEYS[1], 'answered', 'code', 'excerpt', 'progress', 'progress_at', 'beats',
  'result', 'done', 'retry', 'ended_at')
local hard = tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'attempt', n, 'state', 'delivering', 'started_at', ARGV[3],
  'hard', hard, 'deadline', hard, 'hb', ARGV[5], tk, ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[6])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 'go'
