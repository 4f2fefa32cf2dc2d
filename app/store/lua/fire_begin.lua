-- Start attempt ARGV[2] of a fire within the tenant's limits, atomically: at most one
-- attempt of a fire in flight fleet-wide, at most `max concurrency` deliveries of the tenant
-- in flight, and a GCRA rate limit (an emission interval and a burst).
-- KEYS[1] fire hash, KEYS[2] in-flight marker, KEYS[3] tenant rate (GCRA theoretical
-- arrival time, ms), KEYS[4] tenant slots zset (marker token -> slot expiry ms), KEYS[5]
-- (optional) the fire's schedule record, checked at a cron fire's first attempt (KEYS[1]
-- again: no schedule to check), KEYS[6] (optional) the tenant's version counter
-- ARGV[1] invoker token, ARGV[2] attempt number, ARGV[3] marker and slot ttl ms ('' = the
-- record's `timeout_ms` + ARGV[12]),
-- ARGV[4] now ms (for the record), ARGV[5] emission interval ms (0 = no rate limit),
-- ARGV[6] burst, ARGV[7] max concurrency (0 = none), ARGV[8] recheck base ms,
-- ARGV[9] recheck cap ms, ARGV[10] jitter factor, ARGV[11] limiter clock ms ('' = TIME),
-- ARGV[12] margin ms added to the attempt's deadline, ARGV[13] '1' = return the record too,
-- ARGV[14] (with KEYS[6]) the tenant version the caller signed with, ARGV[15] the schedule
-- stamp `ss` the caller read in the record ('' = none): a request prepared ahead
-- Returns 'go' (marker and slot taken), 'missing' (no record), 'done' (final status:
-- succeeded, failed, skipped), 'stale' (this attempt number was already recorded: a
-- duplicate copy), 'changed' (KEYS[5] given, the fire not attempted yet, and its schedule
-- deleted or written since the fire was planned: the fire's `ss`, '<version>:<updated_at>'
-- of the schedule then, differs from the record's now; nothing taken), 'busy:<ms left>'
-- (another invoker holds the marker), 'tenant' (KEYS[6] given and the tenant written since
-- the version ARGV[14]; nothing taken), or
-- 'limit:rate:<ms>:<at>' / 'limit:concurrency:<ms>:<at>' (over a limit: come back in <ms>,
-- at <at> on the limiter's clock; counted in the fire's `deferrals`, no attempt used).
-- A rate deferral reserves its future moment (the GCRA arrival time moves on), and the fire
-- remembers it in `rate_at`: when it comes back (not before) it goes without a second rate
-- check, so a backlog drains at the rate instead of every deferred fire retrying at once.
-- A concurrency deferral waits min(earliest slot expiry, base * 2^deferrals, cap) * jitter.
-- A fan-out parent (field `fo_count`, docs/fanout.md) makes no request: 'fanout' means the
-- marker is taken as the lease of one expansion step (no tenant slot, no rate), and the
-- parent is `running`.
local function begin()
  -- every field this reads, in one call
  local f = redis.call('HMGET', KEYS[1], 'status', 'attempt_count', 'ss', 'timeout_ms',
    'fo_count', 'rate_at', 'first_attempt_at', 'deferrals')
  local st, ss = f[1], f[3]
  if not st then return 'missing' end
  if st == 'succeeded' or st == 'failed' or st == 'skipped' then return 'done' end
  local count = tonumber(f[2] or '0')
  if tonumber(ARGV[2]) <= count then return 'stale' end
  if KEYS[6] and (redis.call('GET', KEYS[6]) or '') ~= ARGV[14] then return 'tenant' end
  if ARGV[15] and ARGV[15] ~= '' and ss ~= ARGV[15] then return 'changed' end
  if ss and KEYS[5] and KEYS[5] ~= KEYS[1] and count == 0 and st == 'dispatched' then
    local raw = redis.call('GET', KEYS[5])
    if not raw then return 'changed' end
    local s = cjson.decode(raw)
    local version, updated = string.match(ss, '^(%d+):(%d+)$')
    if (tonumber(s['version']) or 1) ~= tonumber(version)
        or tonumber(s['updated_at']) ~= tonumber(updated) then
      return 'changed'
    end
  end
  local held = redis.call('PTTL', KEYS[2])
  if held > 0 or held == -1 then return 'busy:' .. held end

  local now
  if ARGV[11] == '' then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  else
    now = tonumber(ARGV[11])
  end
  local ttl = tonumber(ARGV[3])
  if not ttl then
    local deadline = tonumber(f[4] or '')
    if not deadline then  -- a record written before `timeout_ms` existed
      local target = cjson.decode(redis.call('HGET', KEYS[1], 'target') or '{}')
      deadline = (tonumber(target['timeout_seconds']) or 300) * 1000
    end
    ttl = deadline + tonumber(ARGV[12])
  end
  local started = {}  -- status and timestamps written when the attempt (or step) starts
  if not f[7] then started = {'first_attempt_at', ARGV[4]} end
  if f[5] then
    -- a step takes well under a second: a lease of 5 s + margin, so a step cut short by a
    -- crash is made again soon (a step outliving its lease is made twice: harmless)
    redis.call('SET', KEYS[2], ARGV[1], 'PX', math.min(ttl, 5000 + tonumber(ARGV[12])))
    if st ~= 'running' then
      redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[4], unpack(started))
    elseif #started > 0 then
      redis.call('HSET', KEYS[1], unpack(started))
    end
    return 'fanout'
  end

  local function defer(reason, wait)
    wait = math.max(math.ceil(wait), 1)
    redis.call('HINCRBY', KEYS[1], 'deferrals', 1)
    redis.call('HSET', KEYS[1], 'next_attempt_at', now + wait)
    return 'limit:' .. reason .. ':' .. wait .. ':' .. (now + wait)
  end

  local max_conc = tonumber(ARGV[7])
  if max_conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
    if redis.call('ZCARD', KEYS[4]) >= max_conc then
      local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
      local n = tonumber(f[8] or '0')
      local backoff = math.min(tonumber(ARGV[8]) * 2 ^ math.min(n, 20), tonumber(ARGV[9]))
      return defer('concurrency', math.min(tonumber(first[2]) - now, backoff) * tonumber(ARGV[10]))
    end
  end

  local interval = tonumber(ARGV[5])
  local reserved = tonumber(f[6] or '-1')
  if reserved > now then return defer('rate', reserved - now) end
  if interval > 0 and reserved < 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
    local allow_at = tat - (tonumber(ARGV[6]) - 1) * interval
    redis.call('SET', KEYS[3], tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
    if allow_at > now then
      redis.call('HSET', KEYS[1], 'rate_at', tostring(allow_at))
      return defer('rate', allow_at - now)
    end
  end

  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
  if max_conc > 0 then
    redis.call('ZADD', KEYS[4], now + ttl, ARGV[1])
    local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
    redis.call('PEXPIRE', KEYS[4], math.ceil(tonumber(last[2]) - now) + 1000)
  end
  if f[6] then redis.call('HDEL', KEYS[1], 'rate_at') end
  redis.call('HSET', KEYS[1], 'status', 'delivering', 'updated_at', ARGV[4], unpack(started))
  return 'go'
end

local answer = begin()
if ARGV[13] ~= '1' then return answer end
if answer ~= 'go' and answer ~= 'fanout' then return {answer} end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, answer)
return out
