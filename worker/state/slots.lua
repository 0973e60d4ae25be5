-- Recording slots: a lease semaphore keyed by channel with a FIFO waiting queue.
--
-- KEYS[1] slots   ZSET member = channel, score = lease expiry (ms, Redis server time)
-- KEYS[2] waiting ZSET member = channel, score = arrival order (lower = earlier)
-- KEYS[3] seq     counter that numbers arrivals into the waiting queue
-- ARGV[1] operation, ARGV[2] limit, ARGV[3] lease TTL in ms, ARGV[4..] channels
--
-- Every call first sweeps expired leases, so nothing depends on a key-level TTL.
-- Time comes only from redis.call('TIME'): client clocks never matter. Compatible with
-- Redis >= 6.2 (script effects replication is the default since Redis 5).

local slots, waiting, seq = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Scores are passed as integer strings: Lua would print large numbers in %.14g form.
local function ms(value)
  return string.format('%d', value)
end

redis.call('ZREMRANGEBYSCORE', slots, '-inf', ms(now_ms))

local function free_slots()
  local free = limit - redis.call('ZCARD', slots)
  if free < 0 then
    return 0
  end
  return free
end

-- The waiting channels at the head of the queue that fit the free capacity.
local function admissible()
  local free = free_slots()
  if free == 0 then
    return {}
  end
  return redis.call('ZRANGE', waiting, 0, free - 1)
end

-- Set the channel's lease to now + ttl, never shortening a longer one.
local function grant(channel)
  local expiry = now_ms + ttl_ms
  local current = redis.call('ZSCORE', slots, channel)
  if current and tonumber(current) > expiry then
    expiry = tonumber(current)
  end
  redis.call('ZADD', slots, ms(expiry), channel)
  redis.call('ZREM', waiting, channel)
end

if op == 'acquire' then
  local channel = ARGV[4]
  if redis.call('ZSCORE', slots, channel) then
    redis.call('ZREM', waiting, channel)
    return {'held', 0}
  end
  -- FIFO: a channel fits only if everybody ahead of it in the queue fits as well, so a
  -- newcomer (placed behind the whole queue) never overtakes a waiter.
  local rank = redis.call('ZRANK', waiting, channel)
  local place = rank
  if not rank then
    place = redis.call('ZCARD', waiting)
  end
  if place < free_slots() then
    grant(channel)
    return {'admitted', 0}
  end
  if not rank then
    redis.call('ZADD', waiting, redis.call('INCR', seq), channel)
  end
  return {'waiting', place + 1}
elseif op == 'renew' then
  local channel = ARGV[4]
  if not redis.call('ZSCORE', slots, channel) then
    return 0
  end
  grant(channel)
  return 1
elseif op == 'release' then
  local channel = ARGV[4]
  redis.call('ZREM', slots, channel)
  redis.call('ZREM', waiting, channel)
  return admissible()
elseif op == 'leave' then
  redis.call('ZREM', waiting, ARGV[4])
  return admissible()
elseif op == 'requeue_front' then
  local channel = ARGV[4]
  redis.call('ZREM', slots, channel)
  redis.call('ZREM', waiting, channel)
  local head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
  local score
  if head[2] then
    score = tonumber(head[2]) - 1
  else
    score = redis.call('INCR', seq)
  end
  redis.call('ZADD', waiting, ms(score), channel)
  return 1
elseif op == 'rebuild' then
  local created = 0
  for i = 4, #ARGV do
    if not redis.call('ZSCORE', slots, ARGV[i]) then
      created = created + 1
    end
    grant(ARGV[i])
  end
  return created
elseif op == 'admissible' then
  return admissible()
elseif op == 'in_use' then
  return redis.call('ZCARD', slots)
elseif op == 'state' then
  return {
    ms(now_ms),
    redis.call('ZRANGE', slots, 0, -1, 'WITHSCORES'),
    redis.call('ZRANGE', waiting, 0, -1),
  }
end

return redis.error_reply('unknown slots operation: ' .. tostring(op))
