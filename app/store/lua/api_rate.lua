-- One request against an API key's rate limit: GCRA (generic cell rate algorithm).
-- KEYS[1] the key's theoretical arrival time (ms, string with expiry)
-- ARGV[1] emission interval ms (1000 / per_second), ARGV[2] burst (requests at once)
-- Returns {1, 0, remaining} allowed, or {0, retry_after_ms, 0} refused (nothing stored).
-- The clock is Redis TIME, shared by every API process.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, math.ceil(allow_at - now), 0}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, 0, math.floor((now - allow_at) / interval)}
