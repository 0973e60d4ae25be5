-- How busy the shared rate limiter is (RateLimiter.has_spare_capacity); changes nothing.
--
-- KEYS[1] permit log ZSET (see ratelimit.lua), score = permit time in µs
-- ARGV[1] the measured interval in µs
--
-- Returns {permits stamped within the last interval or later, µs from now to the last
-- permit as a decimal string (0 or less: nobody waits for a future permit)}.

local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = redis.call('ZCOUNT', KEYS[1], string.format('%d', now_us - tonumber(ARGV[1])), '+inf')
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ahead_us = 0
if last[2] then ahead_us = tonumber(last[2]) - now_us end
return {n, string.format('%d', ahead_us)}
