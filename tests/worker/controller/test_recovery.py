"""Agora's answers on the start path: uncertain starts, conflicts (53), no capacity (406)."""

from __future__ import annotations

import dataclasses

from sandbox.faults import FaultRule
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker.controller.recorder_uids import PRIMARY
from worker.state.sessions import SessionState


async def test_an_uncertain_start_retried_on_its_resource_waits_for_event_40_and_adopts_its_sid(
    stack: Stack,
) -> None:
    # The start takes effect but its answer is lost; the retry answers 201/7 without a sid.
    stack.world.faults.add(FaultRule(endpoint="start", status=504, code=62, after=True, count=1))
    await stack.join("room-1", 11)
    waiting = await stack.until_state("room-1", SessionState.SID_UNKNOWN)
    assert waiting.sid is None
    (task,) = stack.running("room-1")
    await stack.recording_event("room-1", 40, sid=task.sid, uid=waiting.uid, sequence=1, status=0)
    running = await stack.until_state("room-1", SessionState.RUNNING)
    assert (running.sid, running.resource_id) == (task.sid, task.resource_id)
    assert len(stack.running()) == 1


async def test_a_conflict_with_a_task_of_unknown_sid_keeps_the_slot_and_starts_no_second_recorder(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    assert first.uid_index == PRIMARY
    # Our records of that recording are lost (its task keeps running at Agora).
    await stack.deps.sessions.delete("room-1")
    await stack.deps.slots.release("room-1")
    orphan = await stack.until_state("room-1", SessionState.SID_UNKNOWN)
    assert (orphan.uid, orphan.resource_id) == (first.uid, None)
    # Probes (every 300 ms here) keep meeting the same task: nothing else ever starts.
    await eventually(lambda: _conflicted_twice(stack, "room-1"), what="a probe answered 53")
    assert [t.sid for t in stack.running("room-1")] == [first.sid]
    assert await stack.deps.slots.holders() == ["room-1"]
    started = [c for c in stack.world.calls if c.endpoint == "start" and c.status < 300]
    assert len(started) == 1


async def _conflicted_twice(stack: Stack, channel: str) -> bool:
    await stack.reconcile(channel)
    conflicts = [c for c in stack.world.calls if c.endpoint == "start" and c.code == 53]
    return len(conflicts) >= 2


async def test_a_conflict_with_a_task_announced_by_event_40_adopts_that_task(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    await stack.recording_event("room-1", 40, sid=first.sid or "", uid=first.uid, sequence=1)
    # The answer of that start was lost and the session went back to acquire a new resource.
    lost = dataclasses.replace(
        first,
        state=SessionState.ACQUIRING,
        resource_id=None,
        resource_ms=None,
        sid=None,
        started_ms=None,
    )
    await stack.deps.sessions.save(lost, first)
    adopted = await stack.until_state("room-1", SessionState.RUNNING)
    assert (adopted.sid, adopted.resource_id, adopted.uid) == (
        first.sid,
        first.resource_id,
        first.uid,
    )
    assert len(stack.running("room-1")) == 1


async def test_a_probe_of_a_running_task_of_unknown_sid_keeps_waiting_for_its_sid(
    stack: Stack,
) -> None:
    stack.world.faults.add(FaultRule(endpoint="start", status=504, code=62, after=True, count=1))
    await stack.join("room-1", 11)
    waiting = await stack.until_state("room-1", SessionState.SID_UNKNOWN)
    await eventually(lambda: _probed(stack, "room-1"), what="a probe answered 53")
    after = await stack.session("room-1")
    assert after is not None
    assert (after.state, after.resource_id, after.probe_of) == (
        SessionState.SID_UNKNOWN,
        waiting.resource_id,
        None,
    )
    assert len(stack.running("room-1")) == 1


async def _probed(stack: Stack, channel: str) -> bool:
    await stack.reconcile(channel)
    current = await stack.session(channel)
    return current is not None and "53" in (current.last_error or "")


async def test_a_probe_starts_the_recording_when_the_uncertain_start_never_ran(
    stack: Stack,
) -> None:
    stack.world.faults.add(FaultRule(endpoint="start", status=504, code=62, after=True, count=1))
    await stack.join("room-1", 11)
    waiting = await stack.until_state("room-1", SessionState.SID_UNKNOWN)
    (task,) = stack.running("room-1")
    stack.world.kill(task.sid)  # it dies before anyone learns its sid
    await eventually(lambda: _recording_again(stack, task.sid), what="a new recording")
    current = await stack.session("room-1")
    assert current is not None
    assert current.uid == waiting.uid
    assert current.probe_of is None


async def _recording_again(stack: Stack, old_sid: str) -> bool:
    await stack.reconcile("room-1")
    current = await stack.session("room-1")
    return current is not None and current.sid is not None and current.sid != old_sid
