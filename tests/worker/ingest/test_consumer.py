"""The events-stream consumer against real Redis: group, PEL, claims, dead letters, paths."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
from worker.events import RecordingEvent, RecordingEventType
from worker.state.channel_state import read_channel_state

CH = "room-1"
NCS_DATA = Path(__file__).resolve().parents[2] / "data" / "ncs"


async def occupancy(redis: aioredis.Redis, channel: str = CH) -> int:
    state = await read_channel_state(redis, channel)
    return 0 if state is None else state.occupancy


async def dead_letters(redis: aioredis.Redis) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await redis.xrange(keys.dead_letter(STREAM))]


# --- basics ----------------------------------------------------------------------------------


async def test_the_group_is_created_and_reads_entries_added_before_it(
    redis: aioredis.Redis,
) -> None:
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await drain(consumer(redis))
    assert await occupancy(redis) == 1
    assert await pending(redis) == 0


async def test_a_batch_of_app_events_is_applied_and_acknowledged(redis: aioredis.Redis) -> None:
    for uid in range(1, 6):
        await add(redis, "event", app_event("user.joined", CH, uid, seq=1))
    await add(redis, "event", app_event("user.left", CH, 3, seq=2))
    result = await consumer(redis).step()
    assert (result.read, result.applied, len(result.acked)) == (6, 6, 6)
    assert await occupancy(redis) == 4
    assert await pending(redis) == 0


async def test_the_ncs_path_and_the_app_event_path_give_identical_state(
    redis: aioredis.Redis,
) -> None:
    story = [
        ("user.joined", 103, 1, 10),
        ("user.joined", 103, 2, 10),
        ("user.left", 104, 1, 12),
        ("user.joined", 103, 1, 11),  # late: older than the leave
        ("user.joined", 103, 3, 20),
        ("user.left", 104, 3, 21),
        ("user.joined", 103, 3, 22),
    ]
    for _, event_type, uid, seq in story:
        await add(redis, "ncs", ncs_event(event_type, CH, uid, seq))
    await drain(consumer(redis))
    via_ncs = await snapshot(redis, CH)
    await redis.flushdb()
    for kind, _, uid, seq in story:
        await add(redis, "event", app_event(kind, CH, uid, seq))
    await drain(consumer(redis))
    assert await snapshot(redis, CH) == via_ncs
    assert await occupancy(redis) == 2


async def test_a_flip_wakes_the_channel_and_clears_its_mark(redis: aioredis.Redis) -> None:
    woken: list[tuple[str, int]] = []

    async def on_changed(channel: str, gen: int) -> None:
        woken.append((channel, gen))

    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await add(redis, "event", app_event("user.joined", CH, 2, seq=1))
    await add(redis, "event", app_event("user.left", CH, 1, seq=2))
    await add(redis, "event", app_event("user.left", CH, 2, seq=2))
    await drain(consumer(redis, on_changed=on_changed))
    assert woken == [(CH, 1), (CH, 2)]
    assert await redis.zcard(keys.RECONCILE_DUE) == 0


async def test_a_failed_wake_up_stays_marked_until_the_sweep_sends_it(
    redis: aioredis.Redis,
) -> None:
    attempts: list[int] = []

    async def flaky(channel: str, gen: int) -> None:
        attempts.append(gen)
        if len(attempts) == 1:
            raise ConnectionError("queue unavailable")

    c = consumer(redis, on_changed=flaky)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await c.step()
    assert await redis.zscore(keys.RECONCILE_DUE, CH) == 1
    await c.step()
    assert attempts == [1, 1]
    assert await redis.zcard(keys.RECONCILE_DUE) == 0
    assert c.metrics.registry.get_sample_value("autorec_reconcile_enqueue_errors_total") == 1


# --- pending entries and claims --------------------------------------------------------------


async def test_own_pending_entries_are_applied_first_after_a_restart(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await add(redis, "event", app_event("user.joined", CH, 2, seq=1))
    await redis.xreadgroup(GROUP, "w1", {STREAM: ">"})  # then the process died
    await add(redis, "event", app_event("user.joined", CH, 3, seq=1))
    c = consumer(redis, "w1")
    first = await c.step()
    assert (first.read, await occupancy(redis)) == (2, 2)
    second = await c.step()
    assert (second.read, await occupancy(redis)) == (1, 3)


async def test_entries_of_a_dead_consumer_are_claimed_once_idle(redis: aioredis.Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await redis.xreadgroup(GROUP, "dead", {STREAM: ">"})
    result = await consumer(redis, "w2", claim_idle_ms=0).step()
    assert (result.claimed, await occupancy(redis), await pending(redis)) == (1, 1, 0)


async def test_entries_are_not_claimed_before_they_are_idle_long_enough(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await redis.xreadgroup(GROUP, "slow", {STREAM: ">"})
    result = await consumer(redis, "w2", claim_idle_ms=60_000).step()
    assert (result.claimed, await occupancy(redis), await pending(redis)) == (0, 0, 1)


async def test_an_entry_that_keeps_failing_is_dead_lettered_after_n_deliveries(
    redis: aioredis.Redis,
) -> None:
    async def broken(event: RecordingEvent) -> None:
        raise RuntimeError("controller bug")

    entry_id = await add(redis, "ncs", recording_event(40, CH, 0, status=0))
    c = consumer(redis, claim_idle_ms=0, dead_letter_after=2, on_recording_event=broken)
    outcomes = [await c.step() for _ in range(3)]
    assert [(r.failed, r.dead_lettered) for r in outcomes] == [(1, 0), (1, 0), (0, 1)]
    (dead,) = await dead_letters(redis)
    assert (dead[b"dl_reason"], dead[b"dl_entry_id"]) == (b"max_deliveries", entry_id.encode())
    assert dead[b"ncs"] == recording_event(40, CH, 0, status=0)
    assert await pending(redis) == 0


async def test_an_entry_that_crashed_the_worker_at_every_start_is_dead_lettered(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await redis.xreadgroup(GROUP, "w1", {STREAM: ">"})
    for _ in range(2):  # two restarts re-read it, and died again
        await redis.xreadgroup(GROUP, "w1", {STREAM: "0"})
    result = await consumer(redis, "w1", dead_letter_after=3).step()
    assert (result.dead_lettered, await occupancy(redis), await pending(redis)) == (1, 0, 0)


async def test_a_malformed_entry_is_dead_lettered_at_once_and_the_batch_goes_on(
    redis: aioredis.Redis,
) -> None:
    await add(redis, "event", b'{"type":"user.joined","channel":"room-1"}')
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    result = await consumer(redis).step()
    assert (result.dead_lettered, result.applied) == (1, 1)
    (dead,) = await dead_letters(redis)
    assert dead[b"dl_reason"] == b"malformed"
    assert b"uid" in dead[b"dl_error"]
    assert (await occupancy(redis), await pending(redis)) == (1, 0)


async def test_an_entry_without_an_event_field_is_dead_lettered(redis: aioredis.Redis) -> None:
    await add(redis, "something", b"else")
    await consumer(redis).step()
    (dead,) = await dead_letters(redis)
    assert (dead[b"dl_reason"], dead[b"something"]) == (b"malformed", b"else")


# --- event kinds -----------------------------------------------------------------------------


async def test_unknown_event_types_are_counted_and_acknowledged(redis: aioredis.Redis) -> None:
    await add(redis, "event", b'{"id":"x","type":"user.muted","channel":"room-1"}')
    await add(redis, "ncs", b'{"noticeId":"n","productId":4,"eventType":2,"payload":{}}')
    c = consumer(redis)
    result = await c.step()
    assert (result.unknown, await pending(redis)) == (2, 0)
    sample = c.metrics.registry.get_sample_value
    assert sample("autorec_events_unknown_total", {"product": "app", "event_type": "other"}) == 1
    assert sample("autorec_events_unknown_total", {"product": "4", "event_type": "2"}) == 1


async def test_console_test_events_are_acknowledged_without_effect(
    redis: aioredis.Redis,
) -> None:
    for path in sorted((NCS_DATA / "console").iterdir()):
        await add(redis, "ncs", path.read_bytes())
    result = await consumer(redis).step()
    assert (result.ignored, await pending(redis)) == (10, 0)
    assert await read_channel_state(redis, "test_webhook") is None


async def test_recorder_events_never_change_occupancy(redis: aioredis.Redis) -> None:
    await add(redis, "ncs", ncs_event(103, CH, 4_200_000_001, 1, clientType=10, platform=6))
    await add(redis, "ncs", ncs_event(103, CH, 555, 2, clientType=10, platform=6))
    await add(redis, "ncs", ncs_event(111, CH, 555, 3))  # role change: no platform field
    await add(redis, "ncs", ncs_event(104, CH, 555, 4, clientType=10, platform=6))
    await drain(consumer(redis))
    assert await read_channel_state(redis, CH) is not None
    assert await occupancy(redis) == 0


async def test_a_recording_event_is_acknowledged_after_its_handler_returns(
    redis: aioredis.Redis,
) -> None:
    seen: list[tuple[RecordingEventType, int]] = []

    async def handler(event: RecordingEvent) -> None:
        seen.append((event.event_type, await pending(redis)))

    await add(redis, "ncs", recording_event(41, CH, 3, leaveCode=4))
    await consumer(redis, on_recording_event=handler).step()
    assert seen == [(RecordingEventType.RECORDER_LEAVE, 1)]
    assert await pending(redis) == 0


async def test_a_failing_recording_handler_leaves_its_entry_pending(
    redis: aioredis.Redis,
) -> None:
    async def broken(event: RecordingEvent) -> None:
        raise RuntimeError("controller bug")

    await add(redis, "ncs", recording_event(40, CH, 0, status=0))
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    c = consumer(redis, on_recording_event=broken)
    result = await c.step()
    assert (result.failed, result.applied, await pending(redis)) == (1, 1, 1)
    assert c.metrics.registry.get_sample_value("autorec_events_handler_errors_total") == 1


async def test_a_failover_stops_counting_the_recorders_new_uid(redis: aioredis.Redis) -> None:
    await add(redis, "ncs", ncs_event(103, CH, 3_735_928_559, 1))  # looked like a user
    await add(redis, "ncs", ncs_event(103, CH, 7, 1))
    await add(redis, "ncs", recording_event(12, CH, 5, newUid=3_735_928_559))
    await add(redis, "ncs", ncs_event(111, CH, 3_735_928_559, 2))
    await drain(consumer(redis))
    assert await occupancy(redis) == 1


async def test_applied_events_are_counted_by_kind(redis: aioredis.Redis) -> None:
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await add(redis, "event", app_event("user.left", CH, 1, seq=2))
    c = consumer(redis)
    await c.step()
    sample = c.metrics.registry.get_sample_value
    assert sample("autorec_events_applied_total", {"kind": "join"}) == 1
    assert sample("autorec_events_applied_total", {"kind": "leave"}) == 1
    assert sample("autorec_events_ignored_total", {"reason": "duplicate"}) == 1


async def test_the_claim_cycle_reports_pending_and_lag(redis: aioredis.Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await redis.xreadgroup(GROUP, "other", {STREAM: ">"})
    await add(redis, "event", app_event("user.joined", CH, 2, seq=1))
    c = consumer(redis)
    await c.step()  # gauges are read before this step's new entries
    sample = c.metrics.registry.get_sample_value
    assert (sample("autorec_events_pending"), sample("autorec_events_consumer_lag")) == (1, 1)


# --- the loop --------------------------------------------------------------------------------


async def test_run_applies_new_entries_until_stopped(redis: aioredis.Redis) -> None:
    woken = asyncio.Event()

    async def on_changed(channel: str, gen: int) -> None:
        woken.set()

    c = consumer(redis, on_changed=on_changed, block_ms=50)
    task = asyncio.create_task(c.run())
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))
    await asyncio.wait_for(woken.wait(), timeout=10)
    c.stop()
    await asyncio.wait_for(task, timeout=5)
    assert await occupancy(redis) == 1


async def test_the_dead_letter_record_names_the_consumer(redis: aioredis.Redis) -> None:
    await add(redis, "event", b"not json")
    await consumer(redis, "worker-a").step()
    (dead,) = await dead_letters(redis)
    assert dead[b"dl_consumer"] == b"worker-a"
    assert b"not valid JSON" in dead[b"dl_error"]


async def test_stop_ends_an_idle_blocking_read_at_once(redis: aioredis.Redis) -> None:
    c = consumer(redis, block_ms=30_000)
    task = asyncio.create_task(c.run())
    await add(redis, "event", app_event("user.joined", CH, 1, seq=1))

    async def applied() -> bool:
        return await occupancy(redis) == 1

    await eventually(applied)  # now idle in a 30 s blocking read
    c.stop()
    await asyncio.wait_for(task, timeout=2)
