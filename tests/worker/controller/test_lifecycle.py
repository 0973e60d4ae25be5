"""Start on an occupied channel, stop after the grace period, a rejoin cancels the stop."""

from __future__ import annotations

from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.state.sessions import SessionState


async def test_a_host_joining_starts_one_recording_confirmed_by_query(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.start_worker()

    async def running() -> bool:
        session = await stack.session("room-1")
        return session is not None and session.state is SessionState.RUNNING

    await eventually(running, what="the recording to be confirmed")
    session = await stack.session("room-1")
    assert session is not None
    (task,) = stack.running("room-1")
    assert (task.sid, task.recorder_uid) == (session.sid, session.uid)
    assert await stack.deps.slots.holders() == ["room-1"]


async def test_the_last_host_leaving_stops_the_recording_after_the_grace_period(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.start_worker()

    async def recording() -> bool:
        return len(stack.running("room-1")) == 1

    await eventually(recording)
    await stack.leave("room-1", 11)

    async def stopped() -> bool:
        return not stack.running("room-1") and await stack.session("room-1") is None

    await eventually(stopped, what="the recording to stop")
    (entry,) = await stack.deps.history.history("room-1")
    assert entry.stop_reason == "empty"
    assert entry.outcome == "stopped"
    assert entry.ended_ms - entry.created_ms >= 200
    assert await stack.deps.slots.holders() == []


async def test_a_rejoin_within_the_grace_period_cancels_the_stop(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.reconcile("room-1")
    await stack.leave("room-1", 11)
    assert (await stack.reconcile("room-1")).split(",")[-1] == "wait"
    await stack.join("room-1", 12)
    await stack.start_worker()
    await eventually(lambda: _after_grace(stack))
    assert len(stack.running("room-1")) == 1
    session = await stack.session("room-1")
    assert session is not None
    assert session.state in (SessionState.STARTED, SessionState.RUNNING)
    assert session.undesired_since_ms is None


async def _after_grace(stack: Stack) -> bool:
    state = await stack.arq.hget(keys.channel("room-1"), "updated_ms")
    now_s, _ = await stack.arq.time()
    return state is not None and now_s * 1000 - int(state) > 600


async def test_an_audience_only_live_channel_is_not_recorded(stack: Stack) -> None:
    await stack.join("live-1", 21, role="audience")
    assert await stack.reconcile("live-1") == "idle"
    assert stack.running() == []
    assert await stack.session("live-1") is None
