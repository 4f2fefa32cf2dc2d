-- End a fan-out parent whose shards have all ended (after its outcome callbacks are queued).
-- KEYS[1] parent fire hash, KEYS[2] dead letters, KEYS[3] the parent's attempts list,
-- KEYS[4] the parent's failed shards zset, KEYS[5] the schedule's active-fire marker
-- (optional; see fire_create.lua)
-- ARGV[1] now ms, ARGV[2] parent fire id, ARGV[3] retention s
-- The parent fails when more than `fo_maxf` shards failed, else it succeeds. A failed
-- parent is a dead letter like a failed fire (fire_finish.lua): kept, with its failed-shards
-- list, for the retention from now, its entry scored now, entries a retention old trimmed.
-- A parent's end clears the marker if it names the parent (overlap forbid: running until
-- it ends).
-- Returns {'closed', status} (ended now), {'already', status}, {'open'} (a shard reopened
-- in between) or {'missing'}.
local p = redis.call('HMGET', KEYS[1], 'status', 'fo_count', 'fo_ok', 'fo_failed', 'fo_maxf')
if not p[1] then return {'missing'} end
if p[1] == 'succeeded' or p[1] == 'failed' then return {'already', p[1]} end
local ok, failed = tonumber(p[3] or '0'), tonumber(p[4] or '0')
if ok + failed < tonumber(p[2]) then return {'open'} end
local final = 'succeeded'
if failed > tonumber(p[5] or '0') then final = 'failed' end
redis.call('HSET', KEYS[1], 'status', final, 'updated_at', ARGV[1], 'next_attempt_at', '')
if final == 'failed' then
  local keep = tonumber(ARGV[3])
  redis.call('EXPIRE', KEYS[1], keep)
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], keep) end
  if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('EXPIRE', KEYS[4], keep) end
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - keep * 1000)
  redis.call('EXPIRE', KEYS[2], keep)
end
if KEYS[5] and redis.call('GET', KEYS[5]) == ARGV[2] then redis.call('DEL', KEYS[5]) end
return {'closed', final}
