-- A long job reports, with its attempt's bearer token: progress (a heartbeat) or completion.
-- KEYS[1] job hash, KEYS[2] the tenant's running jobs zset
-- ARGV[1] 'progress' or 'complete', ARGV[2] the token's attempt, ARGV[3] the token's hash,
-- ARGV[4] now ms, ARGV[5] progress JSON or result JSON, ARGV[6] completion status
-- (succeeded | failed), ARGV[7] completion body digest, ARGV[8] '1' = a failure may retry,
-- ARGV[9] job id (an attempt that ends leaves KEYS[2])
-- Exactly one outcome per attempt: the first completion or timeout wins; a report for an
-- attempt that is over never changes the job and a refused completion is recorded in `late`
-- (the last 10). A report past the deadline times the attempt out first.
-- Returns:
-- {'unknown'}: no such job, or the token is not one of this job's (401/404, same answer)
-- {'ok', deadline}: progress recorded, the deadline pushed (up to the total timeout)
-- {'ended', status, ended_at}: the completion recorded (apply it next)
-- {'same', status, ended_at}: the same completion again
-- {'late', reason, timed_out}: refused (409); timed_out '1' when this report found the
--   deadline passed and ended the attempt as `timeout` (apply it next)
local kind, n, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local tks = redis.call('HGET', KEYS[1], 'tk:' .. ARGV[2])
if not tks or not string.find(' ' .. tks .. ' ', ' ' .. ARGV[3] .. ' ', 1, true) then
  return {'unknown'}
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'attempt'))
local st = redis.call('HGET', KEYS[1], 'state')

local function late(reason, timed_out)
  if kind == 'complete' then
    local list = cjson.decode(redis.call('HGET', KEYS[1], 'late') or '[]')
    table.insert(list, {attempt = n, at = now, status = ARGV[6], reason = reason})
    while #list > 10 do table.remove(list, 1) end
    redis.call('HSET', KEYS[1], 'late', cjson.encode(list))
  end
  return {'late', reason, timed_out or '0'}
end

if n < cur then
  return late('attempt ' .. n .. ' is over; attempt ' .. cur .. ' is under way')
end
if st == 'closed' then
  return late('attempt ' .. n .. ' already ended with its HTTP answer')
end
if st == 'running' and now >= tonumber(redis.call('HGET', KEYS[1], 'deadline')) then
  redis.call('HSET', KEYS[1], 'state', 'timeout', 'ended_at', now)
  redis.call('ZREM', KEYS[2], ARGV[9])
  return late('attempt ' .. n .. ' timed out', '1')
end
if st == 'timeout' then return late('attempt ' .. n .. ' timed out') end
if st == 'succeeded' or st == 'failed' then
  if kind == 'complete' and redis.call('HGET', KEYS[1], 'done') == ARGV[7] then
    return {'same', st, redis.call('HGET', KEYS[1], 'ended_at')}
  end
  return late('attempt ' .. n .. ' already completed as ' .. st)
end

-- delivering or running: the attempt is open
if kind == 'progress' then
  redis.call('HSET', KEYS[1], 'progress', ARGV[5], 'progress_at', now)
  redis.call('HINCRBY', KEYS[1], 'beats', 1)
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline'))
  local hb = tonumber(redis.call('HGET', KEYS[1], 'hb') or '0')
  if hb > 0 then
    deadline = math.min(now + hb, tonumber(redis.call('HGET', KEYS[1], 'hard')))
    redis.call('HSET', KEYS[1], 'deadline', deadline)
  end
  return {'ok', deadline}
end
redis.call('HSET', KEYS[1], 'state', ARGV[6], 'result', ARGV[5], 'done', ARGV[7],
  'ended_at', now, 'retry', ARGV[8])
redis.call('ZREM', KEYS[2], ARGV[9])
return {'ended', ARGV[6], now}
