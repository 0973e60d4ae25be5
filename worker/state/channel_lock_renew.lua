-- Extend a channel lock only if the caller still holds it (compare and expire).
-- KEYS[1] lock key; ARGV[1] the holder's token, ARGV[2] the new TTL (ms).
-- Returns 1 if extended, 0 if the lock is gone or held by someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
