-- End one expansion step of a fan-out parent: its shards are made and published.
-- KEYS[1] parent fire hash, KEYS[2] the parent's in-flight marker (the step's lease)
-- ARGV[1] the step's lease token, ARGV[2] shards made so far (the expansion cursor)
-- The cursor only moves forward. Returns the cursor now stored.
local made = tonumber(redis.call('HGET', KEYS[1], 'fo_made') or '0')
if tonumber(ARGV[2]) > made and redis.call('EXISTS', KEYS[1]) == 1 then
  made = tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'fo_made', made)
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return made
