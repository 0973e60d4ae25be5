-- Clear a reconcile wake-up mark, unless a newer desired-state flip replaced it meanwhile.
-- KEYS[1] the wake-up marks (autorec:reconcile:due); ARGV[1] channel, ARGV[2] its enqueued gen.
-- Returns 1 if the mark was removed, else 0.
local gen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if gen and tonumber(gen) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
