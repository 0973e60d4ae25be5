"""The override rule (pure) and the override store on a real Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from worker.state.overrides import Desire, Override, OverrideStore, Record, desire

ALWAYS = Override(Record.ALWAYS, set_at_ms=1_000)
NEVER_UNTIL_EMPTY = Override(Record.NEVER, set_at_ms=1_000, until_empty=True)


def test_without_an_override_the_automatic_decision_stands() -> None:
    assert desire(True, 2, None, now_ms=5_000, recording=True) == Desire(True)
    assert desire(False, 0, None, now_ms=5_000, recording=False) == Desire(False)


@given(auto=st.booleans(), occupancy=st.integers(0, 50), recording=st.booleans())
def test_always_wants_a_recording_whatever_the_occupancy(
    auto: bool, occupancy: int, recording: bool
) -> None:
    wish = desire(auto, occupancy, ALWAYS, now_ms=5_000, recording=recording)
    assert wish.desired
    assert not wish.manual_stop
    assert not wish.spent


@given(auto=st.booleans(), occupancy=st.integers(1, 50), recording=st.booleans())
def test_never_stops_now_while_the_channel_is_occupied(
    auto: bool, occupancy: int, recording: bool
) -> None:
    wish = desire(auto, occupancy, NEVER_UNTIL_EMPTY, now_ms=5_000, recording=recording)
    assert not wish.desired
    assert wish.manual_stop


def test_never_until_empty_holds_until_the_recording_of_the_empty_channel_has_ended() -> None:
    assert desire(False, 0, NEVER_UNTIL_EMPTY, now_ms=5_000, recording=True).manual_stop
    spent = desire(False, 0, NEVER_UNTIL_EMPTY, now_ms=5_000, recording=False)
    assert spent.spent
    assert not spent.manual_stop


def test_a_never_override_whose_channel_emptied_is_spent_though_it_refilled() -> None:
    emptied = Override(Record.NEVER, set_at_ms=1_000, until_empty=True, emptied=True)
    wish = desire(True, 3, emptied, now_ms=5_000, recording=False)
    assert wish == Desire(True, spent=True)


def test_a_never_override_whose_channel_emptied_holds_while_its_recording_runs() -> None:
    emptied = Override(Record.NEVER, set_at_ms=1_000, until_empty=True, emptied=True)
    assert desire(True, 3, emptied, now_ms=5_000, recording=True).manual_stop


def test_never_without_until_empty_holds_on_an_empty_channel() -> None:
    never = Override(Record.NEVER, set_at_ms=1_000)
    wish = desire(False, 0, never, now_ms=5_000, recording=False)
    assert not wish.desired
    assert not wish.spent


@given(auto=st.booleans(), record=st.sampled_from(Record))
def test_an_expired_override_is_spent_and_the_automatic_decision_stands(
    auto: bool, record: Record
) -> None:
    override = Override(record, set_at_ms=1_000, expires_at_ms=4_000)
    wish = desire(auto, 1, override, now_ms=4_000, recording=False)
    assert wish == Desire(auto, spent=True)


def test_an_override_with_an_expiry_asks_to_be_looked_at_then() -> None:
    override = Override(Record.ALWAYS, set_at_ms=1_000, expires_at_ms=9_000)
    assert desire(False, 0, override, now_ms=5_000, recording=False).until_ms == 9_000


async def test_an_override_round_trips_through_redis_with_its_fields(
    redis: aioredis.Redis,
) -> None:
    store = OverrideStore(redis)
    override = Override(
        Record.ALWAYS,
        set_at_ms=1_234,
        expires_at_ms=99_000,
        policy_fields={"mode": "individual", "streams": "audio"},
    )
    await store.put("room:1", override)
    assert await store.get("room:1") == override
    assert await store.channels() == ["room:1"]
    assert await store.clear("room:1")
    assert await store.get("room:1") is None
    assert await store.channels() == []


async def test_a_spent_override_is_removed_only_if_no_newer_one_replaced_it(
    redis: aioredis.Redis,
) -> None:
    store = OverrideStore(redis)
    await store.put("room-1", Override(Record.NEVER, set_at_ms=1_000, until_empty=True))
    await store.put("room-1", Override(Record.ALWAYS, set_at_ms=2_000))
    assert not await store.clear_if_same("room-1", 1_000)
    assert (await store.get("room-1")) == Override(Record.ALWAYS, set_at_ms=2_000)
    assert await store.clear_if_same("room-1", 2_000)
    assert await store.get("room-1") is None
