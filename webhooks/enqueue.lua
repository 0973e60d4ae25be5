-- Deduplicated, durable enqueue of one event, atomically.
-- KEYS[1] dedupe key (autorec:seen:<source>:<event id>), KEYS[2] events stream
-- ARGV[1] dedupe TTL (s), ARGV[2] approximate stream MAXLEN, ARGV[3..] field, value, ...
-- Returns the new entry id, or false (nil) when the event id was already seen.
-- The id is remembered only after the XADD succeeded: a script error is not rolled back,
-- and a refused event must not make its sender's retry look like a duplicate.
-- A duplicate refreshes the key: that write follows the original XADD in the replication
-- stream, so a `WAIT` after a "duplicate" answer covers the event it stands for.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return false
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return id
