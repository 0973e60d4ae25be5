"""A task in doubt keeps its slot and is never doubled (design §7): query 404s count as a
failover until the failover window has passed; no periodic pass shortens that; a task
declared dead is still sent a stop; only then does a replacement start."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.faults import FaultRule
from sandbox.models import CallRecord
from tests.support.controller import Stack
from tests.support.e2e.checks import holds
from tests.support.waiting import eventually
from worker.controller.recorder_uids import BACKUP, PRIMARY
from worker.controller.sweep import sweep
from worker.state.sessions import Session, SessionState

WINDOW_S = 1.5


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"autorec_failover_window_s": WINDOW_S, "autorec_max_recordings": 1}


def calls_to(stack: Stack, endpoint: str, sid: str | None = None) -> list[CallRecord]:
    return [
        call
        for call in stack.world.calls
        if call.endpoint == endpoint and (sid is None or sid in call.path)
    ]


async def check_now(stack: Stack, channel: str) -> None:
    now = await stack.effects.now_ms()
    await stack.deps.sessions.set_check_due(channel, now)


async def in_doubt(stack: Stack, channel: str) -> Session:
    """Reconcile until a query answered 404 and the session backs off."""

    async def backing_off() -> bool:
        await stack.reconcile(channel)
        current = await stack.session(channel)
        return current is not None and current.not_found > 0

    await eventually(backing_off, what=f"a query 404 for {channel}")
    session = await stack.session(channel)
    assert session is not None
    return session


async def test_a_task_in_doubt_keeps_its_slot_and_a_dead_one_is_stopped_and_replaced_once(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    assert first.uid_index == PRIMARY
    # An HA failover shorter than the failover window: every task call answers 404.
    stack.world.faults.add(FaultRule(not_found_s=WINDOW_S * 0.6))
    await check_now(stack, "room-1")
    await in_doubt(stack, "room-1")
    # Another channel wants the only slot; the task in doubt keeps it.
    await stack.join("room-2", 21)
    await stack.start_worker()

    async def first_kept() -> bool:
        current = await stack.session("room-1")
        return (
            current is not None
            and current.sid == first.sid
            and await stack.deps.slots.holders() == ["room-1"]
            and await stack.session("room-2") is None
            and [t.sid for t in stack.running()] == [first.sid]
        )

    await holds(first_kept, for_s=WINDOW_S * 0.6, what="the task in doubt and its slot")

    async def confirmed_again() -> bool:
        await stack.reconcile("room-1")
        current = await stack.session("room-1")
        return current is not None and current.not_found == 0 and current.sid == first.sid

    await eventually(confirmed_again, what="the task confirmed after the failover")
    assert await stack.deps.history.history("room-1") == []
    await stack.leave("room-2", 21)

    # Now the task dies and no event tells us: only the failover window can prove it gone.
    stack.world.kill(first.sid or "")
    killed_at = len(stack.world.calls)
    await check_now(stack, "room-1")

    async def replaced() -> bool:
        current = await stack.session("room-1")
        return current is not None and current.sid not in (None, first.sid)

    await eventually(replaced, what="a replacement after the failover window")
    second = await stack.session("room-1")
    assert second is not None
    assert second.uid_index == BACKUP
    (died,) = await stack.deps.history.history("room-1")
    assert (died.outcome, died.sid, died.stop_reason) == ("died", first.sid, "agora")
    assert calls_to(stack, "stop", first.sid), "the dead task was never sent a stop"
    after_kill = stack.world.calls[killed_at:]
    first_404 = next(c.t for c in after_kill if c.endpoint == "query" and c.status == 404)
    (stop,) = [c for c in after_kill if c.endpoint == "stop"]
    assert stop.t >= first_404 + WINDOW_S * 0.9, "declared dead before the failover window"
    assert [t.sid for t in stack.running("room-1")] == [second.sid]
    assert len([c for c in calls_to(stack, "start") if c.status < 300]) == 2
    assert stack.world.stats.limit_violations == 0


async def test_periodic_passes_during_a_back_off_do_not_shorten_it(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.kill(first.sid or "")  # silently: no recording event reaches us
    await check_now(stack, "room-1")
    backing_off = await in_doubt(stack, "room-1")
    assert backing_off.not_found_since_ms is not None
    window_end_ms = backing_off.not_found_since_ms + int(WINDOW_S * 1000)

    async def still_in_doubt_after_a_pass() -> bool:
        before = await stack.session("room-1")
        await sweep(stack.effects)
        after = await stack.session("room-1")
        assert before is not None
        assert after is not None
        assert after.check_due_ms == before.check_due_ms, "a pass moved the back-off"
        await stack.reconcile("room-1")
        current = await stack.session("room-1")
        return current is not None and current.sid == first.sid

    await holds(still_in_doubt_after_a_pass, for_s=WINDOW_S * 0.7, what="the task in doubt")
    assert calls_to(stack, "stop", first.sid) == []

    async def ended() -> bool:
        await sweep(stack.effects)
        await stack.reconcile("room-1")
        current = await stack.session("room-1")
        return current is None or current.sid != first.sid

    await eventually(ended, what="the task declared dead")
    (died,) = await stack.deps.history.history("room-1")
    assert died.outcome == "died"
    assert died.ended_ms >= window_end_ms


async def test_a_stop_answered_404_inside_the_failover_window_is_sent_again_until_answered(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(not_found_s=WINDOW_S * 0.6))
    await check_now(stack, "room-1")
    await in_doubt(stack, "room-1")
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended, what="the stop answered outside the failover window")
    answers = [c.status for c in calls_to(stack, "stop", first.sid)]
    assert answers[0] == 404
    assert answers[-1] == 200
    (entry,) = await stack.deps.history.history("room-1")
    assert (entry.outcome, entry.sid) == ("stopped", first.sid)
    assert stack.running() == []


async def test_a_dead_task_whose_stop_is_refused_ends_after_three_stop_attempts(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.kill(first.sid or "")
    stack.world.faults.add(FaultRule(endpoint="stop", status=400, code=2, count=10))
    await check_now(stack, "room-1")
    await stack.start_worker()
    await stack.reconcile("room-1")

    async def ended() -> bool:
        history = await stack.deps.history.history("room-1")
        return any(entry.sid == first.sid for entry in history)

    await eventually(ended, what="the dead task's session to end")
    assert len(calls_to(stack, "stop", first.sid)) == 3
    died = next(e for e in await stack.deps.history.history("room-1") if e.sid == first.sid)
    assert died.outcome == "died"


async def test_recording_event_41_proves_a_task_in_doubt_gone_before_the_window_ends(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.kill(first.sid or "")
    await check_now(stack, "room-1")
    await in_doubt(stack, "room-1")
    await stack.recording_event(
        "room-1", 41, sid=first.sid or "", uid=first.uid, sequence=1, leave_code=0
    )
    await stack.reconcile("room-1")
    (exited,) = await stack.deps.history.history("room-1")
    assert (exited.outcome, exited.sid) == ("exited", first.sid)
    second = await stack.until_state("room-1", SessionState.RUNNING)
    assert second.uid_index == BACKUP
    assert [t.sid for t in stack.running("room-1")] == [second.sid]
