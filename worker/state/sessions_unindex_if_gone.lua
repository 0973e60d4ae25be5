-- Remove a channel from the session index unless its session hash exists (again).
-- KEYS[1] session hash, KEYS[2] session index; ARGV[1] channel. Returns ZREM's count.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
