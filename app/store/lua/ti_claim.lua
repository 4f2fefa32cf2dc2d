-- Claim due items of one time-index shard under a lease.
-- KEYS[1] due      zset  item -> due ms
-- KEYS[2] lease    zset  item -> lease expiry ms
-- KEYS[3] claimed  hash  item -> "<owner>|<original due ms>"
-- KEYS[4] items    hash  item -> payload
-- KEYS[5] pending  hash  item -> due ms written while the item was claimed (-1 = none)
-- ARGV[1] lease length ms, ARGV[2] max items, ARGV[3] owner token,
-- ARGV[4] lookahead ms (optional, default 0): items due up to now + lookahead are claimed,
-- so a dispatcher can prepare them and publish at their instant
-- ARGV[5] herd window ms (optional, default 0): also count the items left unclaimed that
-- are due up to now + this window, so a dispatcher sees a herd coming
-- Returns {now_ms, next_due_ms or -1, reclaimed, left, item1, due1, payload1, item2, ...};
-- reclaimed = how many expired leases this call gave back to the due set; left = the
-- items still due up to now + herd window after this claim (0 without a window).
-- A lease runs from the later of now and the item's instant: lease length after it.
-- Expired leases are returned first to the due set with their original instant (or the
-- instant a writer set meanwhile), so a crashed dispatcher's items are claimed again.
-- The clock is Redis TIME, the same for every dispatcher.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local horizon = now + tonumber(ARGV[4] or '0')

local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, item in ipairs(expired) do
  local c = redis.call('HGET', KEYS[3], item)
  redis.call('ZREM', KEYS[2], item)
  redis.call('HDEL', KEYS[3], item)
  if redis.call('HEXISTS', KEYS[4], item) == 1 then
    local p = redis.call('HGET', KEYS[5], item)
    if p then
      redis.call('HDEL', KEYS[5], item)
      if tonumber(p) >= 0 then redis.call('ZADD', KEYS[1], p, item) end
    elseif c then
      local orig = string.match(c, '|(%-?%d+)$')
      redis.call('ZADD', KEYS[1], orig, item)
    end
  end
end

local out = {now, -1, #expired, 0}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', horizon, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  local item, score = due[i], due[i + 1]
  redis.call('ZREM', KEYS[1], item)
  redis.call('ZADD', KEYS[2], math.max(now, tonumber(score)) + lease_ms, item)
  redis.call('HSET', KEYS[3], item, ARGV[3] .. '|' .. score)
  out[#out + 1] = item
  out[#out + 1] = score
  out[#out + 1] = redis.call('HGET', KEYS[4], item) or ''
end

local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local next_due = -1
if #first == 2 then next_due = tonumber(first[2]) end
local lease_first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #lease_first == 2 and (next_due < 0 or tonumber(lease_first[2]) < next_due) then
  next_due = tonumber(lease_first[2])
end
out[2] = next_due
local window = tonumber(ARGV[5] or '0')
if window > 0 then out[4] = redis.call('ZCOUNT', KEYS[1], '-inf', now + window) end
return out
