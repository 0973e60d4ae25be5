-- Shared sliding-window rate limit: a log of permit times (µs, Redis server time) in a ZSET.
--
-- KEYS[1] log ZSET member = "<time µs>-<n>" (unique), score = permit time in µs
-- KEYS[2] seq counter that makes members unique
-- ARGV[1] permits per span; ARGV[2] span in µs (window + safety margin);
-- ARGV[3] longest acceptable wait in µs (0: only a permit usable now; -1: no bound)
--
-- A permit may lie in the future: the caller reserves the earliest time at which one more
-- request keeps every span-long interval at or under `permits`, then sleeps until then.
-- One call per request, first come first served, no retry storm. Returns
-- {wait_us, permit_us, member}; when the wait exceeds ARGV[3] nothing is reserved and
-- member is ''. Compatible with Redis >= 6.2.

local log, seq = KEYS[1], KEYS[2]
local permits = tonumber(ARGV[1])
local span_us = tonumber(ARGV[2])
local max_wait_us = tonumber(ARGV[3])

local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- Lua prints large numbers in %.14g form; scores and members need every digit.
local function us(value)
  return string.format('%d', value)
end

-- Permits older than one span can no longer share an interval with a new one.
redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. us(now_us - span_us))

local at_us = now_us
local count = redis.call('ZCARD', log)
if count >= permits then
  -- After the last permit, and more than one span after the permit `permits` places back,
  -- so the span ending at the new permit holds at most `permits` permits including it.
  local back = redis.call('ZRANGE', log, count - permits, count - permits, 'WITHSCORES')
  local last = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  at_us = math.max(now_us, tonumber(back[2]) + span_us + 1, tonumber(last[2]))
end

local wait_us = at_us - now_us
if max_wait_us >= 0 and wait_us > max_wait_us then
  return {wait_us, at_us, ''}
end

local member = us(at_us) .. '-' .. redis.call('INCR', seq)
redis.call('ZADD', log, us(at_us), member)
local keep_ms = math.ceil((wait_us + span_us) / 1000) + 1000
redis.call('PEXPIRE', log, keep_ms)
redis.call('PEXPIRE', seq, keep_ms)
return {wait_us, at_us, member}
