-- Create fire records unless they exist (a deterministic cron fire id seen again), for any
-- number of fires of one tenant (one slot) in one call.
-- Fire i (1-based): KEYS[4i-3] fire hash, KEYS[4i-2] the schedule's fires zset, KEYS[4i-1]
-- the schedule's active-fire marker (string: the fire being delivered); a fire without a
-- schedule passes its fire hash for both; KEYS[4i] the tenant's fires zset.
-- ARGV[1] retention s, ARGV[2] cutoff ms for the fire lists, ARGV[3] F = number of record
-- fields, ARGV[4 .. 3+F] the field names; then per fire 4 + F values: scheduled ms, fire id,
-- overlap ('forbid' or 'allow'), marker ttl s, the F field values.
-- Overlap 'forbid': while the marker names another fire (still being delivered: cleared by
-- fire_finish.lua at a final status, or expired), the fire is recorded with status
-- 'skipped' and not published; otherwise the marker is set to this fire.
-- Returns, per fire: 'new', 'skipped', or the status of the existing record.
local retention, cutoff, nf = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
local base = 4 + nf
for i = 1, #KEYS / 4 do
  local fire, list, marker, all = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local at = base + (i - 1) * (4 + nf)
  local scheduled, id, overlap, ttl = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  if redis.call('EXISTS', fire) == 1 then
    out[i] = redis.call('HGET', fire, 'status') or 'unknown'
  else
    local result = 'new'
    local active = false
    if overlap == 'forbid' then
      active = redis.call('GET', marker)
      if active and active ~= id then
        result = 'skipped'
      else
        redis.call('SET', marker, id, 'EX', ttl)
      end
    end
    local fields = {}
    for f = 1, nf do
      fields[2 * f - 1] = ARGV[3 + f]
      fields[2 * f] = ARGV[at + 3 + f]
    end
    redis.call('HSET', fire, unpack(fields))
    if result == 'skipped' then
      redis.call('HSET', fire, 'status', 'skipped', 'skip_reason', 'overlap',
        'overlapped_fire', active)
    end
    redis.call('EXPIRE', fire, retention)
    if list ~= fire then
      redis.call('ZADD', list, scheduled, id)
      redis.call('ZREMRANGEBYSCORE', list, '-inf', '(' .. cutoff)
      redis.call('EXPIRE', list, retention)
    end
    redis.call('ZADD', all, scheduled, id)
    redis.call('ZREMRANGEBYSCORE', all, '-inf', '(' .. cutoff)
    redis.call('EXPIRE', all, retention)
    out[i] = result
  end
end
return out
