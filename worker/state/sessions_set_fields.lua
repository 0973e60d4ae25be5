-- Set fields of an existing session hash (recording events); never creates a session.
-- KEYS[1] session hash; ARGV field, value, ... Returns 1 if set, 0 if there is no session.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
