"""Confirmation by query, the 404 back-off, dead recordings restarted, terminal stop answers."""

from __future__ import annotations

from sandbox.faults import FaultRule
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker.controller.recorder_uids import BACKUP, PRIMARY
from worker.state.sessions import SessionState


async def _check_now(stack: Stack, channel: str) -> None:
    now = await stack.effects.now_ms()
    await stack.deps.sessions.set_check_due(channel, now)


async def test_a_recording_gone_past_the_404_back_off_is_restarted_with_the_backup_uid(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    assert first.uid_index == PRIMARY
    stack.world.kill(first.sid or "")
    await _check_now(stack, "room-1")
    await stack.start_worker()
    await stack.reconcile("room-1")

    async def restarted() -> bool:
        current = await stack.session("room-1")
        return current is not None and current.sid not in (None, first.sid)

    await eventually(restarted, what="a new recording after the dead one")
    second = await stack.session("room-1")
    assert second is not None
    assert second.uid_index == BACKUP
    (died,) = await stack.deps.history.history("room-1")
    assert (died.outcome, died.sid) == ("died", first.sid)
    assert [t.sid for t in stack.running("room-1")] == [second.sid]
    assert [f.channel for f in await stack.deps.history.recent_failures()] == ["room-1"]


async def test_a_404_window_shorter_than_the_back_off_keeps_the_recording(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(endpoint="query", status=404, code=404, count=2))
    await _check_now(stack, "room-1")
    assert (await stack.reconcile("room-1")).endswith("query")
    backing_off = await stack.session("room-1")
    assert backing_off is not None
    assert backing_off.not_found == 1
    confirmed = await stack.until_state("room-1", SessionState.RUNNING)
    await eventually(lambda: _confirmed_again(stack, first.confirmed_ms or 0))
    assert confirmed.sid == first.sid
    assert await stack.deps.history.history("room-1") == []


async def _confirmed_again(stack: Stack, before_ms: int) -> bool:
    await stack.reconcile("room-1")
    current = await stack.session("room-1")
    return current is not None and (current.confirmed_ms or 0) > before_ms


async def test_a_stop_answered_404_is_sent_again_so_a_task_still_running_is_stopped(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    # One 404 (as while the task fails over to another server); the task still runs.
    stack.world.faults.add(FaultRule(endpoint="stop", status=404, code=404, count=1))
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended)
    (entry,) = await stack.deps.history.history("room-1")
    assert (entry.outcome, entry.sid) == ("stopped", first.sid)
    assert stack.running() == []
    assert await stack.deps.slots.holders() == []


async def test_a_stop_answered_404_through_the_failover_window_ends_as_not_found(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(endpoint="stop", status=404, code=404))
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended)
    (entry,) = await stack.deps.history.history("room-1")
    assert (entry.outcome, entry.sid) == ("not_found", first.sid)
    assert await stack.deps.slots.holders() == []


async def test_a_recording_nobody_published_in_stops_with_no_recorded_data(stack: Stack) -> None:
    # Our state says a host is there; at Agora nobody ever published.
    await stack.apply_join_only("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.apply_leave_only("room-1", 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended)
    (entry,) = await stack.deps.history.history("room-1")
    assert entry.outcome == "no_recorded_data"
    assert entry.files == ()


async def test_a_stop_failing_transiently_is_retried_until_it_succeeds(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.faults.add(FaultRule(endpoint="stop", status=503, count=6))
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended)
    (entry,) = await stack.deps.history.history("room-1")
    assert entry.outcome == "stopped"
    assert stack.running() == []
