-- Append one notification to the outbox: the message, each endpoint's queue and wake-up,
-- the pending index and the notifications stream, all at once. With a guard key, only if
-- the guard was not set yet (a notification that must be written once).
-- KEYS[1] message hash, KEYS[2] sequence counter, KEYS[3] notifications stream,
-- KEYS[4] pending index, KEYS[5] guard key (or the message hash: no guard),
-- KEYS[5 + i] queue of endpoint i, KEYS[5 + n + i] wake list of endpoint i (i = 1..n)
-- ARGV[1] id, ARGV[2] type, ARGV[3] body (JSON), ARGV[4] recording id, ARGV[5] now ms,
-- ARGV[6] stream max length, ARGV[7] message TTL s, ARGV[8] guard TTL s, ARGV[9] n,
-- ARGV[9 + i] endpoint id i
local n = tonumber(ARGV[9])
if KEYS[5] ~= KEYS[1] then
  if not redis.call('SET', KEYS[5], ARGV[1], 'NX', 'EX', ARGV[8]) then
    return 0
  end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'type', ARGV[2], 'body', ARGV[3],
  'recording', ARGV[4], 'created_ms', ARGV[5], 'seq', seq)
for i = 1, n do
  local ep = ARGV[9 + i]
  redis.call('HSET', KEYS[1], 'st:' .. ep, 'pending', 'due:' .. ep, ARGV[5], 'at:' .. ep, 0)
  redis.call('ZADD', KEYS[5 + i], seq, ARGV[1])
  redis.call('LPUSH', KEYS[5 + n + i], '1')
  redis.call('LTRIM', KEYS[5 + n + i], 0, 0)
end
if n > 0 then
  redis.call('ZADD', KEYS[4], seq, ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[1], 'type', ARGV[2],
  'recording', ARGV[4], 'body', ARGV[3])
return seq
