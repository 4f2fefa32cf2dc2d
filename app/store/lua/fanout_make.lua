-- Create the shard records of one expansion step of a fan-out parent (docs/fanout.md),
-- each unless it exists (a step made again after a crash), and list them on the parent.
-- KEYS[1] parent fire hash, KEYS[2] the parent's shards zset (index -> shard id),
-- KEYS[2 + i] shard i's fire hash
-- ARGV[1] retention s, ARGV[2] F = number of record fields, ARGV[3 .. 2+F] field names;
-- then per shard 1 + F values: its index, the F field values.
-- Returns the number of records created, or -1 without a parent record.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local retention, nf = ARGV[1], tonumber(ARGV[2])
local made = 0
for i = 3, #KEYS do
  local at = 3 + nf + (i - 3) * (1 + nf)
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local fields = {}
    for f = 1, nf do
      fields[2 * f - 1] = ARGV[2 + f]
      fields[2 * f] = ARGV[at + f]
    end
    redis.call('HSET', KEYS[i], unpack(fields))
    redis.call('EXPIRE', KEYS[i], retention)
    made = made + 1
  end
  redis.call('ZADD', KEYS[2], ARGV[at], redis.call('HGET', KEYS[i], 'id'))
end
redis.call('EXPIRE', KEYS[2], retention)
return made
