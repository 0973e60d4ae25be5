"""Agora's answers on the start path: uncertain starts, conflicts (53), no capacity (406)."""

from __future__ import annotations

from sandbox.faults import FaultRule
from tests.worker.controller.conftest import Stack
from worker.recorder_uids import BACKUP, PRIMARY
from worker.sessions import SessionState


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


async def test_a_conflict_with_a_task_of_unknown_sid_switches_to_the_backup_uid(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    assert first.uid_index == PRIMARY
    # Our records of that recording are lost (its task keeps running at Agora).
    await stack.deps.sessions.delete("room-1")
    await stack.deps.slots.release("room-1")
    second = await stack.until_state("room-1", SessionState.RUNNING)
    assert second.uid_index == BACKUP
    assert {t.recorder_uid for t in stack.running("room-1")} == {first.uid, second.uid}


async def test_a_conflict_with_a_task_announced_by_event_40_adopts_that_task(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    await stack.recording_event("room-1", 40, sid=first.sid or "", uid=first.uid, sequence=1)
    # The answer of that start was lost and the session went back to acquire a new resource.
    lost = first.evolve(
        state=SessionState.ACQUIRING, resource_id=None, resource_ms=None, sid=None, started_ms=None
    )
    await stack.deps.sessions.save(lost, first)
    adopted = await stack.until_state("room-1", SessionState.RUNNING)
    assert (adopted.sid, adopted.resource_id, adopted.uid) == (
        first.sid,
        first.resource_id,
        first.uid,
    )
    assert len(stack.running("room-1")) == 1
