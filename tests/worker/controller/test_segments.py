"""A recording stopped for `max_duration_s` on a channel that still wants one continues as the
next segment of the same logical recording."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.policies import Mode
from worker.state.history import HistoryEntry, Outcome
from worker.state.sessions import SessionState
from worker.state.views import ChannelReader

#: The policy's `max_duration_s` (the smallest a policy allows) in ms.
MAX_DURATION_MS = 60_000
#: A little less than the controller's `segment_window_ms`.
WITHIN_THE_WINDOW_MS = 540_000


@pytest.fixture
def policy_text() -> str:
    return """
[[rule]]
match = "long-*"
max_duration_s = 60
"""


async def run_past_max_duration(stack: Stack, channel: str) -> None:
    """Pretend the channel's recording started `max_duration_s` ago (the controller's clock is
    Redis time, which a test cannot advance), and wake its reconcile as its next check
    would."""
    now = await stack.effects.now_ms()
    await stack.arq.hset(keys.session(channel), "started_ms", now - MAX_DURATION_MS)
    await stack.effects.wake(channel, now, now_ms=now)


def records_segment(stack: Stack, channel: str, segment: int) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        session = await stack.session(channel)
        return (
            session is not None
            and session.segment == segment
            and session.state is SessionState.RUNNING
        )

    return condition


async def test_a_recording_split_by_max_duration_is_three_segments_of_one_logical_recording(
    stack: Stack,
) -> None:
    await stack.join("long-1", 11)
    await stack.start_worker()
    for segment in (1, 2, 3):
        await eventually(records_segment(stack, "long-1", segment), what=f"segment {segment}")
        assert len(stack.running("long-1")) == 1
        if segment < 3:
            await run_past_max_duration(stack, "long-1")
    await stack.leave("long-1", 11)

    async def ended() -> bool:
        return await stack.session("long-1") is None

    await eventually(ended, what="the last segment to stop")
    first, second, third = reversed(await stack.deps.history.history("long-1"))
    assert [e.segment for e in (first, second, third)] == [1, 2, 3]
    assert [e.stop_reason for e in (first, second, third)] == [
        "max_duration",
        "max_duration",
        "empty",
    ]
    assert first.logical_id == first.id
    assert (second.logical_id, third.logical_id) == (first.id, first.id)
    assert len({first.id, second.id, third.id}) == 3


async def test_a_running_continuation_shows_its_segment_and_the_first_segments_id(
    stack: Stack,
) -> None:
    await stack.join("long-1", 11)
    await stack.start_worker()
    await eventually(records_segment(stack, "long-1", 1), what="the first segment")
    await run_past_max_duration(stack, "long-1")
    await eventually(records_segment(stack, "long-1", 2), what="the second segment")
    (first,) = await stack.deps.history.history("long-1")
    channel = await ChannelReader(stack.arq, stack.deps.history).channel("long-1")
    assert channel is not None
    assert channel.recording is not None
    assert (channel.recording.segment, channel.recording.logical_id) == (2, first.id)


def ended_before(stack: Stack, ago_ms: int, now_ms: int, **changes: object) -> HistoryEntry:
    """The channel's last recording, which ended `ago_ms` before `now_ms`."""
    entry = HistoryEntry(
        channel="room-1",
        outcome=Outcome.STOPPED,
        uid=stack.deps.config.uids("room-1").uid(0),
        mode=Mode.MIX,
        policy="default policy",
        created_ms=now_ms - ago_ms - MAX_DURATION_MS,
        ended_ms=now_ms - ago_ms,
        sid="a" * 32,
        started_ms=now_ms - ago_ms - MAX_DURATION_MS,
        stop_reason="max_duration",
        logical_id="a" * 32,
    )
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


async def test_a_recording_starting_soon_after_a_max_duration_stop_is_its_next_segment(
    stack: Stack,
) -> None:
    now = await stack.effects.now_ms()
    await stack.deps.history.append(
        ended_before(stack, WITHIN_THE_WINDOW_MS, now, segment=4, logical_id="first")
    )
    session = await stack.effects.new_session("room-1", stack.deps.policies.match("room-1"), 1, now)
    assert (session.segment, session.logical_id) == (5, "first")


async def test_a_recording_long_after_a_max_duration_stop_begins_a_new_logical_recording(
    stack: Stack,
) -> None:
    now = await stack.effects.now_ms()
    await stack.deps.history.append(ended_before(stack, 11 * 60_000, now))
    session = await stack.effects.new_session("room-1", stack.deps.policies.match("room-1"), 0, now)
    assert (session.segment, session.logical_id) == (1, None)


async def test_a_recording_after_one_stopped_for_another_reason_begins_a_new_logical_recording(
    stack: Stack,
) -> None:
    now = await stack.effects.now_ms()
    await stack.deps.history.append(ended_before(stack, 1_000, now, stop_reason="empty"))
    session = await stack.effects.new_session("room-1", stack.deps.policies.match("room-1"), 0, now)
    assert (session.segment, session.logical_id) == (1, None)


async def test_a_continuation_whose_start_failed_leaves_its_place_to_the_next_start(
    stack: Stack,
) -> None:
    now = await stack.effects.now_ms()
    failed = ended_before(
        stack,
        1_000,
        now,
        outcome=Outcome.START_FAILED,
        sid=None,
        started_ms=None,
        stop_reason=None,
        segment=2,
        logical_id="first",
    )
    await stack.deps.history.append(failed)
    session = await stack.effects.new_session("room-1", stack.deps.policies.match("room-1"), 0, now)
    assert (session.segment, session.logical_id) == (2, "first")
