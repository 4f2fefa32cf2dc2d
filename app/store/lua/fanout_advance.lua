-- End one expansion step of a fan-out parent: its shard records are made.
-- KEYS[1] parent fire hash, KEYS[2] the parent's in-flight marker (the step's lease),
-- KEYS[3] the parent's pending ranges (zset "<start>:<end>" -> publish deadline ms)
-- ARGV[1] the step's lease token, ARGV[2] shards made so far (the expansion cursor),
-- ARGV[3] the range this step made ('' = none), ARGV[4] its publish deadline ms
-- The cursor only moves forward. The range stays pending until its shards are published
-- (then removed by the step); a range still pending past its deadline lost its publisher
-- (a crash) and is published again by a later step. The lease ends here, so the next step
-- may run while this one publishes. Returns the cursor now stored.
local made = tonumber(redis.call('HGET', KEYS[1], 'fo_made') or '0')
if redis.call('EXISTS', KEYS[1]) == 1 then
  if tonumber(ARGV[2]) > made then
    made = tonumber(ARGV[2])
    redis.call('HSET', KEYS[1], 'fo_made', made)
  end
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
    local ttl = redis.call('TTL', KEYS[1])
    if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
  end
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return made
