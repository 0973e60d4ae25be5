"""The enqueue script adds each event id to the stream once, atomically, on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from webhooks.app import connect_redis
from webhooks.enqueue import EventQueue, FieldValue
from webhooks.errors import QueueUnavailable
from worker import keys
from worker.dev.redis_server import RedisServer, free_port

STREAM = "autorec:test-events"


def _queue(redis: aioredis.Redis, *, ttl_s: int = 3600, maxlen: int = 100_000) -> EventQueue:
    return EventQueue(redis, stream=STREAM, dedupe_ttl_s=ttl_s, stream_maxlen=maxlen)


def _fields(n: int = 0) -> dict[str, bytes | str | int]:
    return {"ncs": b'{"noticeId":"n%d"}' % n, "src": "agora", "rx_ms": 1700000000000 + n}


@given(
    event_id=st.text(min_size=1, max_size=80),
    fields=st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.binary(max_size=300), st.text(max_size=100), st.integers(0, 2**63)),
        max_size=4,
    ),
)
def test_the_command_is_packed_as_the_asyncio_client_packs_it(
    event_id: str, fields: dict[str, FieldValue]
) -> None:
    queue = EventQueue(aioredis.Redis(), stream=STREAM, dedupe_ttl_s=3600, stream_maxlen=100_000)
    flat = [item for pair in fields.items() for item in pair]
    args = ("EVALSHA", queue.sha, 2, keys.dedupe("agora", event_id), STREAM, 3600, 100_000, *flat)
    assert queue.encode("agora", event_id, fields) == b"".join(Connection().pack_command(*args))


async def test_a_new_event_is_added_to_the_stream_with_its_fields(redis: aioredis.Redis) -> None:
    assert await _queue(redis).enqueue("agora", "n0", _fields()) is True
    [(_, fields)] = await redis.xrange(STREAM)
    assert fields == {b"ncs": b'{"noticeId":"n0"}', b"src": b"agora", b"rx_ms": b"1700000000000"}


async def test_a_seen_event_id_adds_nothing(redis: aioredis.Redis) -> None:
    queue = _queue(redis)
    await queue.enqueue("agora", "n0", _fields(0))
    assert await queue.enqueue("agora", "n0", _fields(1)) is False
    assert await redis.xlen(STREAM) == 1


async def test_the_dedupe_key_expires_after_the_retry_horizon(redis: aioredis.Redis) -> None:
    await _queue(redis, ttl_s=4 * 24 * 3600).enqueue("agora", "n0", _fields())
    ttl_s = await redis.ttl(keys.dedupe("agora", "n0"))
    assert 4 * 24 * 3600 - 5 <= ttl_s <= 4 * 24 * 3600


async def test_the_stream_is_trimmed_near_its_maximum_length(redis: aioredis.Redis) -> None:
    queue = _queue(redis, maxlen=100)
    for n in range(1000):
        await queue.enqueue("agora", f"n{n}", _fields(n))
    # Approximate trimming removes whole nodes (100 entries each by default).
    assert 100 <= await redis.xlen(STREAM) <= 300


async def test_concurrent_enqueues_each_add_their_own_event(redis: aioredis.Redis) -> None:
    queue = _queue(redis)
    added = await asyncio.gather(*(queue.enqueue("agora", f"n{n}", _fields(n)) for n in range(600)))
    assert all(added)
    assert await redis.xlen(STREAM) == 600


async def test_concurrent_copies_of_one_event_are_added_once(redis: aioredis.Redis) -> None:
    queue = _queue(redis)
    added = await asyncio.gather(*(queue.enqueue("agora", "same", _fields(n)) for n in range(50)))
    assert added.count(True) == 1
    assert await redis.xlen(STREAM) == 1


async def test_a_flushed_script_cache_is_reloaded(redis: aioredis.Redis) -> None:
    queue = _queue(redis)
    await queue.enqueue("agora", "n0", _fields(0))
    await redis.script_flush()
    assert await queue.enqueue("agora", "n1", _fields(1)) is True
    assert await redis.xlen(STREAM) == 2


async def test_an_event_the_stream_refused_is_added_when_retried(redis: aioredis.Redis) -> None:
    # A refused event leaves nothing behind: its retry must not pass for a duplicate.
    await redis.set(STREAM, "not a stream")
    queue = _queue(redis)
    with pytest.raises(QueueUnavailable):
        await queue.enqueue("agora", "n0", _fields())
    await redis.delete(STREAM)
    assert await queue.enqueue("agora", "n0", _fields()) is True
    assert await redis.xlen(STREAM) == 1


async def test_an_unreachable_redis_raises_queue_unavailable() -> None:
    redis = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(QueueUnavailable, match="event queue is unavailable") as caught:
            await _queue(redis).enqueue("agora", "n0", _fields())
        assert "ConnectionError" in caught.value.reason
    finally:
        await redis.aclose()


async def test_a_redis_that_refuses_writes_raises_queue_unavailable(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    redis = connect_redis(server.url)
    try:
        await redis.config_set("maxmemory", 1)
        with pytest.raises(QueueUnavailable) as caught:
            await _queue(redis).enqueue("agora", "n0", _fields())
        assert caught.value.reason.startswith("OutOfMemoryError")
    finally:
        await redis.aclose()
