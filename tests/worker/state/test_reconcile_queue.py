"""Reconcile wake-ups: one arq job per generation, the outbox marks, the placeholder job."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from worker import keys
from worker.state.reconcile_queue import (
    clear_due,
    due_wakeups,
    enqueue_reconcile,
    reconcile_job_id,
)


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
    # arq rounds its clock to whole ms, so the score may lie half a ms beyond now + 30 s.
    assert 25_000 < score - time.time() * 1000 <= 30_001


async def test_clearing_a_wake_up_keeps_a_newer_generations_mark(redis: aioredis.Redis) -> None:
    await redis.zadd(keys.RECONCILE_DUE, {"a": 3, "b": 1})
    await clear_due(redis, [("a", 2), ("b", 1)])
    assert await due_wakeups(redis) == [("a", 3)]


# --- controller wake-ups ---------------------------------------------------------------------


def test_a_tagged_wake_up_has_its_own_job_id() -> None:
    assert reconcile_job_id("room-1", 3, "t1700000000050") == "reconcile:room-1:3:t1700000000050"


async def test_a_tagged_wake_up_is_enqueued_beside_the_generations_job(arq_pool: ArqRedis) -> None:
    assert await enqueue_reconcile(arq_pool, "room-1", 3)
    assert await enqueue_reconcile(arq_pool, "room-1", 3, tag="t5", defer_s=5)
    assert not await enqueue_reconcile(arq_pool, "room-1", 3, tag="t5", defer_s=5)
    jobs = sorted(m.decode() for m in await arq_pool.zrange("arq:queue", 0, -1))
    assert jobs == ["reconcile:room-1:3", "reconcile:room-1:3:t5"]
