"""The consumer bench runs, reports its figures and leaves no key behind."""

from __future__ import annotations

import redis.asyncio as aioredis

from bench.consume import measure, ncs_traffic


def test_bench_traffic_joins_and_leaves_every_user_of_a_channel() -> None:
    bodies = ncs_traffic("t", 40)
    assert len(bodies) == 40
    assert sum(b'"eventType":103' in body for body in bodies) == 20


async def test_the_bench_measures_and_cleans_up(redis: aioredis.Redis, redis_url: str) -> None:
    await redis.set("unrelated", "kept")
    figures = await measure(redis_url, 400)
    assert figures["events_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["flips"] == 2 * (400 // 20) + 2 * (400 // 20)
    assert await redis.keys("*") == [b"unrelated"]
