-- Give up the in-flight marker of a fire without recording an attempt (an invoker that was
-- stopped mid-attempt), so the requeued copy goes at once instead of after the marker's TTL.
-- KEYS[1] in-flight marker
-- ARGV[1] invoker token
-- Returns 1 released, 0 the marker is not this invoker's (expired, or taken by another).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
