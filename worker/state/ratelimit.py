"""The Agora request-rate limit shared by every worker: a sliding window on Redis server time.

Agora allows `AUTOREC_MAX_API_QPS` (10) requests per second per App ID, and answers 429
beyond. Every Agora HTTP request (each retry included) first takes a permit:

    limiter = RateLimiter(redis, qps=settings.autorec_max_api_qps)
    await limiter.acquire()          # sleeps until the permit's time, then send the request

How it stays under the limit as Agora measures it: permits are timestamps from Redis `TIME`
in the sorted set `keys.RATE_LIMIT`, so all workers share one clock. A new permit is placed
at the earliest time that keeps every interval of `window_ms + margin_ms` at or under
`permits_per_window` permits (when the window is full that time lies in the future: the
permit is reserved and the caller sleeps until it). Requests then reach Agora at their permit
time plus a delay; as long as the delays of any two requests differ by at most `margin_ms`
(network and scheduling jitter), no `window_ms` interval at Agora sees more than
`permits_per_window` requests. A caller that reaches its permit more than half the margin
late (its event loop was starved, a Redis reply was slow) gives the permit back and takes a
new one, so a late request is counted where it really goes. Reservations also make waiting
first come, first served, with one Redis call per request and no retry storm.

`qps` below one request per window (e.g. 0.5) becomes one permit per `1000 / qps` ms; other
fractions round down to whole permits per window (10.7 → 10 per second), because the limit
holds in every single window.

Requests that can wait (periodic checks, user lists) first ask `has_spare_capacity()`, so they
never delay a start or a stop. Both scripts (`ratelimit.lua`, `ratelimit_load.lua`) live
beside this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker import keys
from worker.state.scripts import LuaScript

#: A permit reached more than half the margin (at least this many ms) after its time is
#: given back and taken anew, at most `LATE_RETAKES` times in a row.
MIN_LATE_MS: Final = 5
LATE_RETAKES: Final = 2

_RESERVE: Final = LuaScript("worker.state", "ratelimit.lua")
_LOAD: Final = LuaScript("worker.state", "ratelimit_load.lua")


class RateLimitTimeout(Exception):
    """No permit could be had within the caller's `timeout_s`; nothing was reserved."""

    def __init__(self, *, wait_ms: int, timeout_s: float, qps: float) -> None:
        super().__init__(
            f"no Agora request permit within {timeout_s:g} s "
            f"(next free in {wait_ms} ms at {qps:g} requests/s)"
        )
        self.wait_ms = wait_ms
        self.timeout_s = timeout_s
        self.qps = qps


@dataclass(frozen=True, slots=True)
class Permit:
    """A granted permit: its Redis server time and how long the caller slept for it."""

    granted_at_us: int
    waited_ms: int
    retakes: int = 0
    """Permits given back first because the caller reached them too late (at most
    `LATE_RETAKES`)."""


class RateLimiter:
    """A sliding-window limit of `qps` requests/s shared through Redis (module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis[Any],
        *,
        qps: float,
        window_ms: int = 1000,
        margin_ms: int = 50,
        key: str = keys.RATE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not math.isfinite(qps) or qps <= 0:
            raise ValueError(f"qps must be a positive number, got {qps!r}")
        if window_ms < 1:
            raise ValueError(f"window_ms must be at least 1, got {window_ms}")
        if margin_ms < 0:
            raise ValueError(f"margin_ms must not be negative, got {margin_ms}")
        permits = math.floor(qps * window_ms / 1000 + 1e-9)
        if permits >= 1:
            span_ms = window_ms
        else:
            permits, span_ms = 1, math.ceil(1000 / qps)
        self._redis = redis
        self._qps = qps
        self._permits = permits
        self._interval_ms = span_ms
        self._span_us = (span_ms + margin_ms) * 1000
        self._late_s = max(margin_ms / 2, MIN_LATE_MS) / 1000
        self._clock = clock
        self._key = key
        self._keys = [key, keys.rate_limit_seq(key)]

    @property
    def qps(self) -> float:
        """The configured requests per second."""
        return self._qps

    @property
    def permits_per_window(self) -> int:
        """Permits in any interval of `interval_ms` (as Agora measures)."""
        return self._permits

    @property
    def interval_ms(self) -> int:
        """The measured interval: `window_ms`, or `1000 / qps` when qps is below one per window."""
        return self._interval_ms

    async def _reserve(self, max_wait_us: int) -> tuple[int, int, str]:
        args = [self._permits, self._span_us, max_wait_us]
        wait_us, at_us, member = await _RESERVE.run(self._redis, keys=self._keys, args=args)
        text = member.decode() if isinstance(member, bytes) else str(member)
        return int(wait_us), int(at_us), text

    async def try_acquire(self) -> int:
        """Take a permit if one is free right now: 0 = granted, else ms until one frees.

        A refusal reserves nothing, so the caller may come back after the returned time (or
        later) without holding up anyone.
        """
        wait_us, _, _ = await self._reserve(0)
        return 0 if wait_us == 0 else max(1, math.ceil(wait_us / 1000))

    async def acquire_permit(self, *, timeout_s: float | None = None) -> Permit:
        """Reserve the next permit and sleep until its time; return it.

        With `timeout_s`, raise `RateLimitTimeout` (reserving nothing) when the permit would
        come later than that. If the caller is cancelled while sleeping, its reservation is
        given back so it does not waste a permit.
        """
        max_wait_us = -1 if timeout_s is None else max(0, int(timeout_s * 1_000_000))
        started = self._clock()
        for retake in range(LATE_RETAKES + 1):
            wait_us, at_us, member = await self._reserve(max_wait_us)
            # The permit's time on this clock, at the latest: the reply's arrival plus the wait
            # (the script ran no later than that). Lateness after it is this process's own.
            due = self._clock() + wait_us / 1_000_000
            if not member:
                assert timeout_s is not None
                raise RateLimitTimeout(
                    wait_ms=math.ceil(wait_us / 1000), timeout_s=timeout_s, qps=self._qps
                )
            if wait_us > 0:
                try:
                    await asyncio.sleep(wait_us / 1_000_000)
                except asyncio.CancelledError:
                    # Best effort: if Redis is unreachable the reservation merely goes unused.
                    with contextlib.suppress(RedisError, OSError):
                        await self._redis.zrem(self._key, member)
                    raise
            late_s = self._clock() - due
            if late_s <= self._late_s or retake == LATE_RETAKES:
                waited_ms = round((self._clock() - started) * 1000)
                return Permit(granted_at_us=at_us, waited_ms=waited_ms, retakes=retake)
            # This process ran late (a starved event loop, a slow Redis reply): sent now,
            # the request could land in one second at Agora with the next window's. Give the
            # permit back and take a new one, which is placed by what was really sent.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.zrem(self._key, member)
        raise AssertionError("unreachable: the last retake returns")

    async def acquire(self, *, timeout_s: float | None = None) -> None:
        """Wait until a request may be sent (see `acquire_permit`)."""
        await self.acquire_permit(timeout_s=timeout_s)

    async def has_spare_capacity(self) -> bool:
        """Whether a request that can wait (a check, a user list) may go now: nobody is queued
        ahead at the limiter (the last permit is not in the future) and the current interval
        holds fewer than half its permits (at least one), so starts and stops always find a
        permit quickly. Takes no permit."""
        args = [self._interval_ms * 1000]
        in_interval, ahead_us = await _LOAD.run(self._redis, keys=[self._key], args=args)
        return int(ahead_us) <= 0 and int(in_interval) < max(1, self._permits // 2)
