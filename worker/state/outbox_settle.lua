-- Settle one endpoint's delivery of a notification: delivered, failed or gone (410), or
-- due again later (retry). When no endpoint has it pending any more, the message leaves the
-- pending index for the delivered or the failed index (both trimmed to ARGV[7] entries).
-- KEYS[1] message hash, KEYS[2] the endpoint's queue, KEYS[3] pending index,
-- KEYS[4] delivered index, KEYS[5] failed index
-- ARGV[1] id, ARGV[2] endpoint id, ARGV[3] outcome ('delivered'|'failed'|'gone'|'retry'),
-- ARGV[4] now ms, ARGV[5] due ms (retry), ARGV[6] last result (text), ARGV[7] index size
local ep = ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local attempts = redis.call('HINCRBY', KEYS[1], 'at:' .. ep, 1)
redis.call('HSET', KEYS[1], 'last:' .. ep, ARGV[6], 'tried:' .. ep, ARGV[4])
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'due:' .. ep, ARGV[5])
  return attempts
end
redis.call('HSET', KEYS[1], 'st:' .. ep, ARGV[3])
redis.call('HDEL', KEYS[1], 'due:' .. ep)
redis.call('ZREM', KEYS[2], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local pending, failed = false, false
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 3) == 'st:' then
    local st = fields[i + 1]
    if st == 'pending' then pending = true end
    if st == 'failed' or st == 'gone' then failed = true end
  end
end
if not pending then
  redis.call('ZREM', KEYS[3], ARGV[1])
  local index = failed and KEYS[5] or KEYS[4]
  redis.call('ZADD', index, ARGV[4], ARGV[1])
  redis.call('ZREMRANGEBYRANK', index, 0, -1 - tonumber(ARGV[7]))
end
return attempts
