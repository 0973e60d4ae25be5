-- Remove a spent override unless a newer one replaced it (its set_at_ms differs).
-- KEYS[1] override hash, KEYS[2] override index; ARGV[1] set_at_ms, ARGV[2] channel.
if redis.call('HGET', KEYS[1], 'set_at_ms') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
