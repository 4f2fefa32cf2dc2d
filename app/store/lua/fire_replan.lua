-- A cron fire whose schedule changed after the fire was planned and before its first attempt
-- (fire_begin.lua answered 'changed'): record it as skipped, or plan it again from the
-- schedule as it is now, unless it has moved on meanwhile (another copy got there first).
-- KEYS[1] fire hash, KEYS[2] the schedule's active-fire marker (overlap forbid)
-- ARGV[1] the stamp `ss` the invoker read in the record, ARGV[2] now ms, ARGV[3] 'skip' or
-- 'plan', ARGV[4] the skip reason, or the new plan's stamp, ARGV[5] N = number of fields
-- to delete, ARGV[6 .. 5+N] their names, then name/value pairs to set ('plan')
-- Returns 1 done, 0 the fire moved on (left as it is: its next begin says what it is).
if redis.call('HGET', KEYS[1], 'status') ~= 'dispatched' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'attempt_count') or '0') ~= 0 then return 0 end
if redis.call('HGET', KEYS[1], 'ss') ~= ARGV[1] then return 0 end
if ARGV[3] == 'skip' then
  redis.call('HSET', KEYS[1], 'status', 'skipped', 'skip_reason', ARGV[4], 'updated_at', ARGV[2])
  if redis.call('GET', KEYS[2]) == redis.call('HGET', KEYS[1], 'id') then
    redis.call('DEL', KEYS[2])
  end
  return 1
end
local n = tonumber(ARGV[5])
for i = 6, 5 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
local fields = {'ss', ARGV[4], 'updated_at', ARGV[2]}
for i = 6 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
