-- Record a fire as skipped that was created but will not be published (its release came
-- too late for its schedule's misfire policy), unless it has moved on meanwhile.
-- KEYS[1] fire hash
-- ARGV[1] the reason ('misfire'), ARGV[2] now ms
-- Returns 1 recorded, 0 the fire is not 'dispatched' any more (left as it is).
if redis.call('HGET', KEYS[1], 'status') ~= 'dispatched' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'skipped', 'skip_reason', ARGV[1], 'updated_at', ARGV[2])
return 1
