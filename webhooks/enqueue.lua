-- Deduplicated, durable enqueue of one event, atomically.
-- KEYS[1] dedupe key (autorec:seen:<source>:<event id>), KEYS[2] events stream
-- ARGV[1] dedupe TTL (s), ARGV[2] approximate stream MAXLEN, ARGV[3..] field, value, ...
-- Returns the new entry id, or false (nil) when the event id was already seen.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return false
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
