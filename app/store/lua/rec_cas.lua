-- Compare and set one string key (a tenant or schedule record, an idempotency state).
-- KEYS[1] the key
-- ARGV[1] the value expected now ('' = the key must not exist)
-- ARGV[2] the new value ('' = delete the key)
-- ARGV[3] expiry ms of the new value (0 = none)
-- Returns 1 written, 0 the key changed meanwhile (nothing written).
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
