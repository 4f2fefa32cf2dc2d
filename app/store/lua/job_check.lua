-- The watch of attempt ARGV[1] of a long job came due (or a completion nudged it).
-- KEYS[1] job hash, KEYS[2] the tenant's running jobs zset
-- ARGV[1] attempt, ARGV[2] now ms, ARGV[3] job id
-- Returns {'done'} (nothing to do: another attempt, already applied, or an attempt whose
-- request is still in flight: its invoker settles it), {'wait', deadline} (heartbeats
-- pushed the deadline: watch again then), or {'ended', field, value, ...} (the attempt's
-- outcome, the job hash's fields, to apply; a running job past its deadline is first
-- ended as `timeout`).
local n = tonumber(ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0') ~= n then return {'done'} end
if tonumber(redis.call('HGET', KEYS[1], 'applied') or '0') >= n then return {'done'} end
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'running' then
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline'))
  if tonumber(ARGV[2]) < deadline then return {'wait', deadline} end
  redis.call('HSET', KEYS[1], 'state', 'timeout', 'ended_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[3])
elseif st ~= 'succeeded' and st ~= 'failed' and st ~= 'timeout' then
  return {'done'}
elseif not redis.call('HGET', KEYS[1], 'answered') then
  return {'done'}
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ended')
return out
