"""With a replica wait, an event is acknowledged only once a replica holds it (real primary and
replica processes), so a failover right after a 200 cannot lose it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.support.sentinel import replicated_pair
from tests.support.waiting import eventually
from webhooks.enqueue import EventQueue
from webhooks.errors import QueueUnavailable
from worker import keys
from worker.dev.redis_server import RedisServer

STREAM = "autorec:test-events"
WAIT_MS = 200


def _queue(redis: aioredis.Redis[bytes], wait_ms: int = WAIT_MS) -> EventQueue:
    return EventQueue(
        redis, stream=STREAM, dedupe_ttl_s=3600, stream_maxlen=1000, replica_ack_timeout_ms=wait_ms
    )


async def test_an_accepted_event_is_already_on_the_replica() -> None:
    async with replicated_pair() as pair:
        primary, replica = pair.primary.client(), pair.replica.client()
        queue = _queue(primary)
        try:
            await queue.load_script()
            for n in range(20):
                assert await queue.enqueue("agora", f"n{n}", {"n": n})
                # Asked at once: the answer came only after the replica confirmed it.
                assert await replica.exists(keys.dedupe("agora", f"n{n}"))
        finally:
            await queue.aclose()
            await primary.aclose()
            await replica.aclose()


async def test_an_event_no_replica_confirms_in_time_is_refused_until_one_holds_it() -> None:
    async with replicated_pair() as pair:
        primary, replica = pair.primary.client(), pair.replica.client()
        queue = _queue(primary)
        try:
            await queue.load_script()
            pair.replica.freeze()
            try:
                with pytest.raises(QueueUnavailable) as first:
                    await queue.enqueue("agora", "late", {"n": 1})
                # The sender's retry is a duplicate, but not answered before a replica
                # holds the event either.
                with pytest.raises(QueueUnavailable) as retry:
                    await queue.enqueue("agora", "late", {"n": 1})
            finally:
                pair.replica.thaw()
            for refused in (first.value, retry.value):
                assert "no replica acknowledged" in refused.reason

            async def retry_answered_as_duplicate() -> bool:
                try:
                    return await queue.enqueue("agora", "late", {"n": 1}) is False
                except QueueUnavailable:
                    return False  # the replica is still catching up; the sender retries

            await eventually(retry_answered_as_duplicate, what="the retry's answer", timeout_s=10)
            assert await replica.exists(keys.dedupe("agora", "late"))
            assert await replica.xlen(STREAM) == 1
        finally:
            await queue.aclose()
            await primary.aclose()
            await replica.aclose()


async def test_a_primary_without_replicas_answers_without_waiting(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(server.url)
    queue = _queue(redis, wait_ms=10_000)
    try:
        await queue.load_script()
        started = time.monotonic()
        assert await queue.enqueue("agora", "alone", {"n": 1})
        assert time.monotonic() - started < 2.0
    finally:
        await queue.aclose()
        await redis.aclose()
