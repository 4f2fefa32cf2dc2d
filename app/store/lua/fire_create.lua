-- Create a fire record unless it exists (a deterministic cron fire id seen again).
-- KEYS[1] fire hash, KEYS[2] the schedule's fires zset (absent schedule: same as KEYS[1])
-- ARGV[1] retention s, ARGV[2] scheduled ms, ARGV[3] fire id, ARGV[4] cutoff ms for the
-- schedule's fire list, ARGV[5..] field, value, field, value ...
-- Returns 'new', or the status of the existing record.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'status') or 'unknown'
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if KEYS[2] ~= KEYS[1] then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 'new'
