"""Channel occupancy against real Redis: ordering, tombstones, roles, recorders, flips."""

from __future__ import annotations

import itertools
import random

import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.events import NO_UID, ChannelEvent, ChannelEventKind, EventSource, Role
from worker.state.channel_state import ChannelState, Member, read_channel_state, read_members
from worker.state.occupancy import (
    ApplyResult,
    OccupancyRules,
    OccupancyScript,
    Outcome,
    StreamAck,
)
from worker.state.overrides import Override, OverrideStore, Record, desire

CH = "room-1"
DEFAULT = OccupancyRules()
T0 = 1_700_000_000_000
_ids = itertools.count()


def event(
    kind: ChannelEventKind,
    uid: int,
    order: int,
    *,
    role: Role = Role.HOST,
    ts_ms: int | None = None,
    recorder: bool = False,
    channel: str = CH,
) -> ChannelEvent:
    return ChannelEvent(
        channel=channel,
        uid=uid,
        kind=kind,
        role=role,
        order=order,
        ts_ms=T0 + order if ts_ms is None else ts_ms,
        is_recorder=recorder,
        event_id=f"e{next(_ids)}",
        source=EventSource.NCS,
    )


def join(uid: int, order: int, **kw: object) -> ChannelEvent:
    return event(ChannelEventKind.JOIN, uid, order, **kw)  # type: ignore[arg-type]


def leave(uid: int, order: int, **kw: object) -> ChannelEvent:
    return event(ChannelEventKind.LEAVE, uid, order, **kw)  # type: ignore[arg-type]


def to_host(uid: int, order: int) -> ChannelEvent:
    return event(ChannelEventKind.ROLE_HOST, uid, order, role=Role.HOST)


def to_audience(uid: int, order: int) -> ChannelEvent:
    return event(ChannelEventKind.ROLE_AUDIENCE, uid, order, role=Role.AUDIENCE)


def closed(ts_ms: int, channel: str = CH) -> ChannelEvent:
    return ChannelEvent(
        channel,
        NO_UID,
        ChannelEventKind.CHANNEL_CLOSED,
        None,
        ts_ms,
        ts_ms,
        False,
        "c",
        EventSource.NCS,
    )


@pytest.fixture
def script() -> OccupancyScript:
    return OccupancyScript()


async def apply_all(
    redis: aioredis.Redis[bytes],
    script: OccupancyScript,
    events: list[ChannelEvent],
    rules: OccupancyRules = DEFAULT,
) -> list[ApplyResult]:
    return [await script.apply(redis, e, rules) for e in events]


async def state(redis: aioredis.Redis[bytes], channel: str = CH) -> ChannelState:
    snapshot = await read_channel_state(redis, channel)
    assert snapshot is not None
    return snapshot


async def present(redis: aioredis.Redis[bytes], channel: str = CH) -> set[int]:
    return {m.uid for m in (await read_members(redis, channel)).values() if m.present}


# --- joins, leaves, ordering -----------------------------------------------------------------


async def test_a_join_counts_the_user_and_makes_recording_desired(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    (result,) = await apply_all(redis, script, [join(1, 10)])
    assert result == ApplyResult(CH, True, True, 1, 1, Outcome.APPLIED)
    assert await present(redis) == {1}


async def test_the_last_leave_empties_the_channel(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [join(1, 10), join(2, 10), leave(1, 11), leave(2, 11)])
    assert [r.occupancy for r in results] == [1, 2, 1, 0]
    assert [r.changed for r in results] == [True, False, False, True]
    assert (await state(redis)).desired is False


async def test_a_leave_that_arrives_before_its_join_leaves_the_uid_out(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [leave(1, 11), join(1, 10)])
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.STALE]
    assert await present(redis) == set()
    assert (await state(redis)).occupancy == 0


async def test_a_duplicate_join_changes_nothing(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [join(1, 10), join(1, 10)])
    assert results[1] == ApplyResult(CH, False, True, 1, 1, Outcome.DUPLICATE)


async def test_a_rejoin_with_a_higher_order_counts_again(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 10), leave(1, 11), join(1, 12)])
    assert await present(redis) == {1}


async def test_orders_beyond_double_precision_compare_exactly(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    big = 2**64 - 2  # a Uint64 clientSeq: 2**64 - 2 and 2**64 - 1 are one double
    results = await apply_all(redis, script, [leave(1, big + 1), join(1, big)])
    assert results[1].outcome is Outcome.STALE
    assert (await read_members(redis, CH))[1].order == big + 1


async def test_shorter_orders_are_older(redis: aioredis.Redis, script: OccupancyScript) -> None:
    results = await apply_all(redis, script, [join(1, 100), leave(1, 99)])
    assert results[1].outcome is Outcome.STALE


async def test_any_arrival_order_with_duplicates_gives_the_same_state(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    story = [
        join(1, 10), join(2, 20), to_audience(2, 21), join(3, 30, role=Role.AUDIENCE),
        to_host(3, 31), leave(1, 12), join(1, 13), leave(3, 32), join(4, 5), leave(4, 6),
    ]  # fmt: skip
    await apply_all(redis, script, story)
    expected = (await read_members(redis, CH), (await state(redis)).occupancy)
    rng = random.Random(7)
    for _ in range(20):
        await redis.flushdb()
        shuffled = story + rng.sample(story, 4)
        rng.shuffle(shuffled)
        await apply_all(redis, script, shuffled)
        assert (await read_members(redis, CH), (await state(redis)).occupancy) == expected


# --- channel destroy -------------------------------------------------------------------------


async def test_channel_destroy_marks_every_member_left(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 10), join(2, 20)])
    result = await script.apply(redis, closed(T0 + 100), DEFAULT)
    assert result == ApplyResult(CH, True, False, 2, 0, Outcome.APPLIED)
    members = await read_members(redis, CH)
    assert {m.present for m in members.values()} == {False}
    assert members[2].order == 20  # the tombstone keeps the uid's order


async def test_channel_destroy_spares_a_member_whose_last_event_is_newer(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 10), join(2, 200)])
    await script.apply(redis, closed(T0 + 100), DEFAULT)
    assert await present(redis) == {2}


async def test_a_join_older_than_the_destroy_arriving_late_is_not_counted(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, closed(T0 + 100), DEFAULT)
    result = await script.apply(redis, join(1, 10), DEFAULT)
    assert result.occupancy == 0
    assert (await read_members(redis, CH))[1].present is False


async def test_a_join_newer_than_the_destroy_counts(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, closed(T0 + 100), DEFAULT)
    assert (await script.apply(redis, join(1, 101), DEFAULT)).occupancy == 1


async def test_a_join_in_the_same_second_as_the_destroy_counts(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    # NCS times are whole seconds, and Agora closes a channel only once it is empty: a join
    # stamped with the close's second came after it (a quick rejoin).
    await script.apply(redis, closed(T0 + 100), DEFAULT)
    assert (await script.apply(redis, join(1, 7, ts_ms=T0 + 100), DEFAULT)).occupancy == 1


async def test_a_repeated_or_older_destroy_is_a_duplicate(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, closed(T0 + 100), DEFAULT)
    await script.apply(redis, join(1, 150), DEFAULT)
    result = await script.apply(redis, closed(T0 + 90), DEFAULT)
    assert (result.outcome, result.occupancy) == (Outcome.DUPLICATE, 1)


# --- tombstones ------------------------------------------------------------------------------


async def test_a_tombstone_keeps_a_late_join_out_within_the_window(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(2, 1), leave(1, 11)])
    assert (await script.apply(redis, join(1, 10), DEFAULT)).outcome is Outcome.STALE


async def test_an_expired_tombstone_is_swept_by_the_next_event(redis: aioredis.Redis) -> None:
    script = OccupancyScript(tombstone_ms=0)
    await apply_all(redis, script, [join(2, 1), leave(1, 11)])
    assert 1 in await read_members(redis, CH)
    await script.apply(redis, join(3, 1), DEFAULT)
    assert 1 not in await read_members(redis, CH)
    assert await redis.zcard(keys.channel_tombstones(CH)) == 0


async def test_after_the_window_a_late_event_is_news_again(redis: aioredis.Redis) -> None:
    script = OccupancyScript(tombstone_ms=0)
    await apply_all(redis, script, [join(2, 1), leave(1, 11)])
    assert (await script.apply(redis, join(1, 10), DEFAULT)).outcome is Outcome.APPLIED


async def test_an_empty_channels_records_expire_after_the_window(redis: aioredis.Redis) -> None:
    script = OccupancyScript(tombstone_ms=60_000)
    await apply_all(redis, script, [join(1, 10), leave(1, 11)])
    ttl_ms = await redis.pttl(keys.channel_members(CH))
    assert 59_000 < ttl_ms <= 60_000
    await script.apply(redis, join(2, 1), DEFAULT)
    assert await redis.pttl(keys.channel_members(CH)) == -1


# --- roles -----------------------------------------------------------------------------------


async def test_audience_does_not_count_by_default(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    (result,) = await apply_all(redis, script, [join(1, 10, role=Role.AUDIENCE)])
    assert (result.occupancy, result.desired) == (0, False)
    assert (await state(redis)).audience == 1


async def test_audience_counts_when_the_rules_say_so(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    rules = OccupancyRules(count_audience=True)
    (result,) = await apply_all(redis, script, [join(1, 10, role=Role.AUDIENCE)], rules)
    assert (result.occupancy, result.desired) == (1, True)


async def test_communication_users_count(redis: aioredis.Redis, script: OccupancyScript) -> None:
    (result,) = await apply_all(redis, script, [join(1, 10, role=Role.COMMUNICATION)])
    assert result.occupancy == 1


async def test_an_audience_member_promoted_to_host_counts(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [join(1, 10, role=Role.AUDIENCE), to_host(1, 11)])
    assert [r.occupancy for r in results] == [0, 1]


async def test_a_host_demoted_to_audience_stops_counting(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [join(1, 10), to_audience(1, 11)])
    assert [r.occupancy for r in results] == [1, 0]
    assert results[1].changed


async def test_a_role_change_before_its_join_puts_the_user_in_with_the_new_role(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [to_host(1, 11), join(1, 10, role=Role.AUDIENCE)])
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.STALE]
    assert (await read_members(redis, CH))[1] == Member(1, True, Role.HOST, 11, T0 + 11)


# --- recorders -------------------------------------------------------------------------------


async def test_the_recorders_own_join_is_never_counted(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    (result,) = await apply_all(redis, script, [join(4_200_000_001, 10, recorder=True)])
    assert (result.outcome, result.occupancy, result.changed) == (Outcome.RECORDER, 0, False)
    assert await read_members(redis, CH) == {}


async def test_a_known_recorders_unmarked_role_change_is_not_counted(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    # 111/112 carry no platform: the uid is known from its marked join.
    await apply_all(redis, script, [join(777, 10, recorder=True)])
    assert (await script.apply(redis, to_host(777, 11), DEFAULT)).outcome is Outcome.RECORDER
    assert (await state(redis)).occupancy == 0


async def test_a_uid_counted_before_it_was_known_as_recorder_is_removed(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 5), to_host(777, 11)])
    result = await script.apply(redis, join(777, 10, recorder=True), DEFAULT)
    assert (result.occupancy, await present(redis)) == (1, {1})


async def test_a_failover_uid_is_removed_and_never_counted_again(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(3_735_928_559, 10)])
    result = (await script.run(redis, [script.recorder_call(CH, 3_735_928_559, DEFAULT)]))[0]
    assert isinstance(result, ApplyResult)
    assert (result.outcome, result.occupancy, result.changed, result.desired) == (
        Outcome.RECORDER,
        0,
        True,
        False,
    )
    assert (await script.apply(redis, join(3_735_928_559, 20), DEFAULT)).occupancy == 0


async def test_recorder_uids_are_remembered_for_a_bounded_time(redis: aioredis.Redis) -> None:
    script = OccupancyScript(recorder_memory_ms=3_600_000)
    await script.apply(redis, join(777, 10, recorder=True), DEFAULT)
    assert 3_599_000 < await redis.pttl(keys.channel_recorders(CH)) <= 3_600_000


async def test_at_most_32_recorder_uids_are_remembered_per_channel(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1000 + n, 1, recorder=True) for n in range(40)])
    assert await redis.zcard(keys.channel_recorders(CH)) == 32


# --- desired state, gen, wake-ups ------------------------------------------------------------


async def test_each_flip_of_desired_bumps_gen_and_marks_a_wake_up(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    results = await apply_all(redis, script, [join(1, 10), leave(1, 11), join(1, 12)])
    assert [(r.changed, r.desired, r.gen) for r in results] == [
        (True, True, 1),
        (True, False, 2),
        (True, True, 3),
    ]
    assert await redis.zscore(keys.RECONCILE_DUE, CH) == 3


async def test_min_users_delays_desired_until_enough_users_are_in(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    rules = OccupancyRules(min_users=2)
    results = await apply_all(redis, script, [join(1, 10), join(2, 10)], rules)
    assert [r.desired for r in results] == [False, True]


async def test_a_channel_not_to_be_recorded_is_never_desired(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    (result,) = await apply_all(redis, script, [join(1, 10)], OccupancyRules(record=False))
    assert (result.occupancy, result.desired, result.gen) == (1, False, 0)


async def test_rules_below_one_user_are_refused() -> None:
    with pytest.raises(ValueError, match="min_users"):
        OccupancyRules(min_users=0)


async def test_empty_since_is_set_when_the_channel_empties_and_cleared_on_reoccupy(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 10), leave(1, 11)])
    empty = await state(redis)
    now_ms = int((await redis.time())[0]) * 1000
    assert empty.empty_since_ms is not None
    assert abs(empty.empty_since_ms - now_ms) < 5_000
    await script.apply(redis, join(1, 12), DEFAULT)
    assert (await state(redis)).empty_since_ms is None


async def test_the_channel_index_is_scored_by_its_last_update(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, join(1, 10), DEFAULT)
    assert await redis.zscore(keys.CHANNELS, CH) == (await state(redis)).updated_ms


async def test_a_duplicate_does_not_touch_the_update_time(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, join(1, 10), DEFAULT)
    before = (await state(redis)).updated_ms
    await redis.hset(keys.channel(CH), "updated_ms", 1)
    await script.apply(redis, join(1, 10), DEFAULT)
    assert before is not None
    assert (await state(redis)).updated_ms == 1


async def test_the_stream_entry_is_acknowledged_in_the_same_step(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await redis.xgroup_create("s", "g", id="0", mkstream=True)
    entry_id = (await redis.xadd("s", {"k": "v"})).decode()
    await redis.xreadgroup("g", "c", {"s": ">"})
    await script.apply(redis, join(1, 10), DEFAULT, ack=StreamAck("s", "g", entry_id))
    assert (await redis.xpending("s", "g"))["pending"] == 0


async def test_a_channel_named_like_another_channels_key_stays_apart(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, join(1, 10, channel="a"), DEFAULT)
    await script.apply(redis, join(2, 10, channel="a:m"), DEFAULT)
    assert (await present(redis, "a"), await present(redis, "a:m")) == ({1}, {2})


async def test_a_reloaded_redis_gets_the_script_again(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await script.apply(redis, join(1, 10), DEFAULT)
    await redis.script_flush()
    assert (await script.apply(redis, join(2, 10), DEFAULT)).occupancy == 2


# --- an `until_empty` override learns that the channel emptied --------------------------


async def test_an_event_that_empties_the_channel_marks_its_until_empty_override(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    store = OverrideStore(redis)
    await apply_all(redis, script, [join(1, 1), join(2, 2)])
    await store.put(CH, Override(Record.NEVER, set_at_ms=1_000, until_empty=True))
    await apply_all(redis, script, [leave(1, 3)])
    assert not (await store.get(CH)).emptied  # type: ignore[union-attr]

    # Emptied, then refilled before anyone looked: the mark stays.
    await apply_all(redis, script, [leave(2, 4), join(3, 5)])
    held = await store.get(CH)
    assert held is not None
    assert held.emptied
    assert desire(True, 1, held, now_ms=5_000, recording=False).spent


async def test_an_override_without_until_empty_is_not_marked(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    store = OverrideStore(redis)
    await apply_all(redis, script, [join(1, 1)])
    await store.put(CH, Override(Record.NEVER, set_at_ms=1_000))
    await apply_all(redis, script, [leave(1, 2)])
    assert await store.get(CH) == Override(Record.NEVER, set_at_ms=1_000)


async def test_an_empty_channel_without_an_override_creates_none(
    redis: aioredis.Redis, script: OccupancyScript
) -> None:
    await apply_all(redis, script, [join(1, 1), leave(1, 2)])
    assert not await redis.exists(keys.override(CH))
