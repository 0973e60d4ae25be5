-- One channel event applied atomically: membership, occupancy, desired state, wake-up, ack.
-- Redis >= 6.2. Reads TIME before writing (effects replication, the default since 5.0).
--
-- KEYS[1] channel hash   autorec:ch:<c>    hosts, audience, occupancy, desired, gen,
--                                          empty_since_ms, updated_ms, closed_ts_ms
-- KEYS[2] members hash   autorec:ch:<c>:m  uid -> "<P|L><c|h|a><order>:<ts_ms>"
--                                          (P present / L left; communication/host/audience)
-- KEYS[3] tombstones     autorec:ch:<c>:t  zset uid -> left at (ms, Redis TIME)
-- KEYS[4] recorder uids  autorec:ch:<c>:r  zset uid -> remembered until (ms, Redis TIME)
-- KEYS[5] autorec:channels                 zset channel -> last update (ms)
-- KEYS[6] autorec:reconcile:due            zset channel -> gen of an unsent wake-up
-- KEYS[7] the events stream (XACK target when ARGV[14] is not empty)
-- KEYS[8] override hash   autorec:ovr:<c>   an `until_empty` override learns the channel
--                                            emptied (field emptied = '1')
-- ARGV[1]  op: 'u' uid event, 'c' channel closed, 'r' the uid is a recorder (failover)
-- ARGV[2]  channel name          ARGV[3] uid (decimal)
-- ARGV[4]  uid event kind: 'j' join, 'l' leave, 'h' role host, 'a' role audience
-- ARGV[5]  role letter: 'c', 'h' or 'a'
-- ARGV[6]  order: canonical decimal of any length (clientSeq is a Uint64)
-- ARGV[7]  ts_ms (decimal, < 2^53)
-- ARGV[8]  '1' when the event is known to be the recorder's own
-- ARGV[9..11] rules: record '1'/'0', min_users, count_audience '1'/'0'
-- ARGV[12] tombstone window (ms)  ARGV[13] how long a recorder uid is remembered (ms)
-- ARGV[14] consumer group ('' = no ack)  ARGV[15] stream entry id
-- Returns {changed 0|1, desired 0|1, gen, occupancy, outcome}; outcome is one of
-- 'applied', 'duplicate', 'stale', 'recorder'.

local ch, members, tombs, recorders = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, channel, uid = ARGV[1], ARGV[2], ARGV[3]
local tomb_ms, recorder_ms = tonumber(ARGV[12]), tonumber(ARGV[13])
local MAX_RECORDERS, SWEEP = 32, 16

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Numbers go to Redis as exact integers (tostring would print 1.7e+15 past 14 digits).
local function int(n) return string.format('%d', n) end

-- Orders compare as decimal strings: exact for any length.
local function cmp(a, b)
  if #a ~= #b then return (#a < #b) and -1 or 1 end
  if a == b then return 0 end
  return (a < b) and -1 or 1
end

-- A member record: state, role, order (string), ts_ms (string).
local function parse(rec)
  local sep = string.find(rec, ':', 3, true)
  return string.sub(rec, 1, 1), string.sub(rec, 2, 2), string.sub(rec, 3, sep - 1),
    string.sub(rec, sep + 1)
end

local state = redis.call('HMGET', ch, 'hosts', 'audience', 'desired', 'gen', 'closed_ts_ms',
  'empty_since_ms')
local count = { h = tonumber(state[1] or '0'), a = tonumber(state[2] or '0') }
local was_desired, gen = tonumber(state[3] or '0'), tonumber(state[4] or '0')
local closed_ts = tonumber(state[5] or '-1')
local empty_since = state[6]

-- communication users and hosts share one counter; audience has its own
local function slot(role) return (role == 'a') and 'a' or 'h' end

-- Forget tombstones older than the window, a few per event (lazy, bounded work).
local expired = redis.call('ZRANGEBYSCORE', tombs, '-inf', int(now - tomb_ms), 'LIMIT', 0, SWEEP)
for _, u in ipairs(expired) do
  local rec = redis.call('HGET', members, u)
  if rec and string.sub(rec, 1, 1) == 'L' then redis.call('HDEL', members, u) end
  redis.call('ZREM', tombs, u)
end

local function forget(u)
  local rec = redis.call('HGET', members, u)
  if rec then
    local st, role = parse(rec)
    if st == 'P' then count[slot(role)] = count[slot(role)] - 1 end
    redis.call('HDEL', members, u)
    redis.call('ZREM', tombs, u)
  end
end

local function remember_recorder(u)
  redis.call('ZREMRANGEBYSCORE', recorders, '-inf', int(now))
  redis.call('ZADD', recorders, int(now + recorder_ms), u)
  local extra = redis.call('ZCARD', recorders) - MAX_RECORDERS
  if extra > 0 then redis.call('ZREMRANGEBYRANK', recorders, 0, extra - 1) end
  redis.call('PEXPIRE', recorders, int(recorder_ms))
  forget(u)
end

local outcome = 'applied'
if op == 'r' then
  remember_recorder(uid)
  outcome = 'recorder'
elseif op == 'c' then
  local ts = tonumber(ARGV[7])
  if ts <= closed_ts then
    outcome = 'duplicate'
  else
    closed_ts = ts
    redis.call('HSET', ch, 'closed_ts_ms', ARGV[7])
    local all = redis.call('HGETALL', members)
    for i = 1, #all, 2 do
      local st, role, order, mts = parse(all[i + 1])
      if st == 'P' and tonumber(mts) <= ts then
        redis.call('HSET', members, all[i], 'L' .. role .. order .. ':' .. mts)
        redis.call('ZADD', tombs, int(now), all[i])
        count[slot(role)] = count[slot(role)] - 1
      end
    end
  end
else
  local remembered = redis.call('ZSCORE', recorders, uid)
  if ARGV[8] == '1' then
    remember_recorder(uid)
    outcome = 'recorder'
  elseif remembered and tonumber(remembered) > now then
    forget(uid)
    outcome = 'recorder'
  else
    local order, role = ARGV[6], ARGV[5]
    local rec = redis.call('HGET', members, uid)
    local old_state, old_role
    if rec then
      local old_order
      old_state, old_role, old_order = parse(rec)
      local c = cmp(order, old_order)
      if c == 0 then outcome = 'duplicate' elseif c < 0 then outcome = 'stale' end
    end
    if outcome == 'applied' then
      -- a join older than the channel's close is a user who has left since; one of the
      -- same second (NCS times are whole seconds) came after it: Agora closes a channel
      -- only once it is empty
      local present = ARGV[4] ~= 'l' and tonumber(ARGV[7]) >= closed_ts
      if old_state == 'P' then count[slot(old_role)] = count[slot(old_role)] - 1 end
      if present then
        count[slot(role)] = count[slot(role)] + 1
        redis.call('ZREM', tombs, uid)
      else
        redis.call('ZADD', tombs, int(now), uid)
      end
      redis.call('HSET', members, uid, (present and 'P' or 'L') .. role .. order .. ':' .. ARGV[7])
    end
  end
end

local occupancy = count.h + ((ARGV[11] == '1') and count.a or 0)
local desired = (ARGV[9] == '1' and occupancy >= tonumber(ARGV[10])) and 1 or 0
local changed = 0
if desired ~= was_desired then
  gen = redis.call('HINCRBY', ch, 'gen', 1)
  changed = 1
  redis.call('ZADD', KEYS[6], gen, channel)
end
redis.call('HSET', ch, 'hosts', int(count.h), 'audience', int(count.a),
  'occupancy', int(occupancy), 'desired', desired)
if occupancy == 0 then
  if not empty_since then redis.call('HSET', ch, 'empty_since_ms', int(now)) end
  -- Remembered at once: a channel that refills before the controller looks has still had
  -- its meeting end.
  if redis.call('HGET', KEYS[8], 'until_empty') == '1' then
    redis.call('HSET', KEYS[8], 'emptied', '1')
  end
elseif empty_since then
  redis.call('HDEL', ch, 'empty_since_ms')
end
if changed == 1 or outcome == 'applied' or outcome == 'recorder' then
  redis.call('HSET', ch, 'updated_ms', int(now))
  redis.call('ZADD', KEYS[5], int(now), channel)
end
-- With nobody present only tombstones remain: let them go when the window has passed.
if count.h + count.a == 0 then
  redis.call('PEXPIRE', members, int(tomb_ms))
  redis.call('PEXPIRE', tombs, int(tomb_ms))
else
  redis.call('PERSIST', members)
  redis.call('PERSIST', tombs)
end
if ARGV[14] ~= '' then redis.call('XACK', KEYS[7], ARGV[14], ARGV[15]) end
return {changed, desired, gen, occupancy, outcome}
