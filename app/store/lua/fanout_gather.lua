-- Gather a shard's final outcome into its fan-out parent, once per outcome.
-- KEYS[1] parent fire hash, KEYS[2] shard fire hash, KEYS[3] the parent's failed shards
-- zset (index -> shard id)
-- The shard's status is read here: a shard not succeeded or failed is not gathered. Its
-- field `gathered` remembers the outcome counted (a replay of the shard takes it back:
-- fanout_reopen.lua), so a second call for one outcome changes nothing.
-- Returns {'open'} while shards are open, {'closed', status} when the parent has ended,
-- {'missing'} without a parent, or {'end', status, succeeded, failed, round} when every
-- shard has ended and the parent has not: its callbacks are due, then fanout_close.lua.
local st = redis.call('HGET', KEYS[2], 'status')
if st ~= 'succeeded' and st ~= 'failed' then return {'open'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if not redis.call('HGET', KEYS[2], 'gathered') then
  redis.call('HSET', KEYS[2], 'gathered', st)
  if st == 'succeeded' then
    redis.call('HINCRBY', KEYS[1], 'fo_ok', 1)
  else
    redis.call('HINCRBY', KEYS[1], 'fo_failed', 1)
    local shard = cjson.decode(redis.call('HGET', KEYS[2], 'fo_shard'))
    redis.call('ZADD', KEYS[3], shard['index'], redis.call('HGET', KEYS[2], 'id'))
    local ttl = redis.call('TTL', KEYS[1])
    if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
  end
end
local p = redis.call('HMGET', KEYS[1], 'status', 'fo_count', 'fo_ok', 'fo_failed', 'fo_maxf',
  'fo_round')
if p[1] == 'succeeded' or p[1] == 'failed' then return {'closed', p[1]} end
local ok, failed = tonumber(p[3] or '0'), tonumber(p[4] or '0')
if ok + failed < tonumber(p[2]) then return {'open'} end
local final = 'succeeded'
if failed > tonumber(p[5] or '0') then final = 'failed' end
return {'end', final, ok, failed, tonumber(p[6] or '0')}
