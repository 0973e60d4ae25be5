-- Make an existing session's next query due by ARGV[1] (ms), never cutting a back-off
-- short: a session with query 404s outstanding (not_found > 0) or a retry due later keeps
-- its time, and a query already due earlier stays. Never creates a session.
-- KEYS[1] session hash; ARGV[1] due ms. Returns 1 if a query is due by then, else 0.
local due = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'state', 'not_found', 'retry_due_ms', 'check_due_ms')
if not v[1] then return 0 end
if v[2] and tonumber(v[2]) > 0 then return 0 end
if v[3] and tonumber(v[3]) > due then return 0 end
if v[4] and tonumber(v[4]) <= due then return 1 end
redis.call('HSET', KEYS[1], 'check_due_ms', ARGV[1])
return 1
