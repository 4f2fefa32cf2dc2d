-- Send a finished shard of a fan-out parent back into delivery (a replay of the shard, or
-- of the parent's failed shards), taking its gathered outcome back from the parent.
-- KEYS[1] shard fire hash, KEYS[2] parent fire hash, KEYS[3] the parent's failed shards
-- zset, KEYS[4] the tenant's dead letters
-- ARGV[1] now ms, ARGV[2] shard fire id, ARGV[3] parent fire id
-- An ended parent is `running` again, out of the dead letters, in its next round (its
-- next end has callbacks of its own). The shard gets a fresh retry budget as in
-- fire_replay.lua. Returns {'ok', attempt_count, previous status, scheduled ms},
-- {'missing'} or {'busy', status} (the shard is not succeeded or failed).
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st ~= 'succeeded' and st ~= 'failed' then return {'busy', st} end
local gathered = redis.call('HGET', KEYS[1], 'gathered')
if gathered and redis.call('EXISTS', KEYS[2]) == 1 then
  if gathered == 'succeeded' then
    redis.call('HINCRBY', KEYS[2], 'fo_ok', -1)
  else
    redis.call('HINCRBY', KEYS[2], 'fo_failed', -1)
  end
  local pst = redis.call('HGET', KEYS[2], 'status')
  if pst == 'succeeded' or pst == 'failed' then
    redis.call('HSET', KEYS[2], 'status', 'running', 'updated_at', ARGV[1])
    redis.call('HINCRBY', KEYS[2], 'fo_round', 1)
    redis.call('ZREM', KEYS[4], ARGV[3])
  end
end
redis.call('HDEL', KEYS[1], 'gathered')
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'dispatched', 'updated_at', ARGV[1], 'next_attempt_at', ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[2])
local count = redis.call('HGET', KEYS[1], 'attempt_count') or '0'
redis.call('HSET', KEYS[1], 'retry_base', count)
redis.call('HDEL', KEYS[1], 'first_attempt_at')
return {'ok', count, st, redis.call('HGET', KEYS[1], 'scheduled_at') or '0'}
