"""Reconcile wake-ups: one arq job per generation, the outbox marks, the placeholder job."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arq.worker import Worker

from worker import keys
from worker.events import ChannelEvent, ChannelEventKind, EventSource, Role
from worker.main import WorkerOptions
from worker.occupancy import OccupancyRules, OccupancyScript
from worker.reconcile_queue import (
    RECONCILE_DUE,
    clear_due,
    due_wakeups,
    enqueue_reconcile,
    reconcile_job_id,
)


@pytest.fixture
async def arq_pool(redis: aioredis.Redis, redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def queued(pool: ArqRedis) -> list[str]:
    return sorted(member.decode() for member in await pool.zrange("arq:queue", 0, -1))


async def test_a_newer_generation_is_enqueued_while_an_older_one_is_queued(
    arq_pool: ArqRedis,
) -> None:
    await enqueue_reconcile(arq_pool, "room-1", 1)
    await enqueue_reconcile(arq_pool, "room-1", 2)
    assert await queued(arq_pool) == ["reconcile:room-1:1", "reconcile:room-1:2"]


async def test_the_same_generation_is_enqueued_once(arq_pool: ArqRedis) -> None:
    await enqueue_reconcile(arq_pool, "room-1", 4)
    await enqueue_reconcile(arq_pool, "room-1", 4)
    assert await queued(arq_pool) == ["reconcile:room-1:4"]


async def test_a_deferred_wake_up_is_scheduled_later(arq_pool: ArqRedis) -> None:
    await enqueue_reconcile(arq_pool, "room-1", 1, defer_s=30)
    score = await arq_pool.zscore("arq:queue", reconcile_job_id("room-1", 1))
    assert score is not None
    assert 25_000 < score - time.time() * 1000 <= 30_000


async def test_clearing_a_wake_up_keeps_a_newer_generations_mark(redis: aioredis.Redis) -> None:
    await redis.zadd(RECONCILE_DUE, {"a": 3, "b": 1})
    await clear_due(redis, [("a", 2), ("b", 1)])
    assert await due_wakeups(redis) == [("a", 3)]


# --- the placeholder job ---------------------------------------------------------------------


async def run_reconcile(pool: ArqRedis, channel: str, gen: int) -> object:
    """Enqueue and run one reconcile in a burst-mode arq worker; its result."""
    await enqueue_reconcile(pool, channel, gen)
    worker = Worker(
        functions=WorkerOptions.functions,
        redis_pool=pool,
        burst=True,
        poll_delay=0,
        handle_signals=False,
    )
    await worker.main()
    return await Job(reconcile_job_id(channel, gen), pool).result(timeout=5)


async def test_reconcile_would_start_an_occupied_channel_without_recording(
    arq_pool: ArqRedis,
) -> None:
    join = ChannelEvent(
        "room-1", 7, ChannelEventKind.JOIN, Role.HOST, 1, 1, False, "e", EventSource.APP
    )
    result = await OccupancyScript().apply(arq_pool, join, OccupancyRules())
    assert await run_reconcile(arq_pool, "room-1", result.gen) == "start"


async def test_reconcile_would_stop_a_recording_nobody_wants(arq_pool: ArqRedis) -> None:
    await arq_pool.hset(keys.session("room-1"), "sid", "s1")
    assert await run_reconcile(arq_pool, "room-1", 1) == "stop"


async def test_reconcile_of_an_unknown_idle_channel_does_nothing(arq_pool: ArqRedis) -> None:
    assert await run_reconcile(arq_pool, "room-9", 1) == "nothing"
