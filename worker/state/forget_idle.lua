-- Delete one channel's state if, now, nobody is present (`hosts` and `audience` count the
-- present users), it is not desired, has no session, no slot lease, no wait-queue entry,
-- no pending wake-up, no lock, and neither its hash nor its index entry changed within the
-- horizon. 1: deleted, 0: kept.
-- KEYS: channel hash, members, tombstones, recorders, CHANNELS, RECONCILE_DUE, session,
-- WAITING, SLOTS, lock.  ARGV: channel, horizon (ms).
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])
local c = ARGV[1]
local score = redis.call('ZSCORE', KEYS[5], c)
if score and tonumber(score) > cutoff then return 0 end
local st = redis.call('HMGET', KEYS[1], 'desired', 'hosts', 'audience', 'occupancy',
  'updated_ms')
if st[1] == '1' then return 0 end
for i = 2, 4 do
  if st[i] and tonumber(st[i]) ~= 0 then return 0 end
end
if st[5] and tonumber(st[5]) > cutoff then return 0 end
if redis.call('EXISTS', KEYS[7], KEYS[10]) > 0 then return 0 end
for _, k in ipairs({KEYS[6], KEYS[8], KEYS[9]}) do
  if redis.call('ZSCORE', k, c) then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], c)
return 1
