-- Write a schedule record with its tenant indexes, atomically (one tenant slot).
-- KEYS[1] schedule record, KEYS[2] the tenant's schedules zset, KEYS[3] its paused set
-- ARGV[1] schedule id, ARGV[2] created ms, ARGV[3] record JSON, ARGV[4] paused (1/0),
-- ARGV[5] expected current record ('' = must not exist: a create), ARGV[6] max schedules
-- for a create (-1 = no limit)
-- Returns 1 written, 0 the record changed meanwhile, -1 the tenant's quota is reached.
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[5] then return 0 end
if ARGV[5] == '' and tonumber(ARGV[6]) >= 0 then
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return -1 end
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[4] == '1' then
  redis.call('SADD', KEYS[3], ARGV[1])
else
  redis.call('SREM', KEYS[3], ARGV[1])
end
return 1
