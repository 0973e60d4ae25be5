"""Recording events (NCS productId 3): duplicates, sid adoption, exits, failovers, files."""

from __future__ import annotations

from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.events import RecordedFile
from worker.state.files import RecordingFile
from worker.state.sessions import SessionState


async def test_an_exit_event_of_the_running_session_restarts_a_wanted_channel(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.kill(first.sid or "")
    await stack.recording_event("room-1", 11, sid=first.sid or "", uid=first.uid, sequence=9)
    await stack.start_worker()

    async def restarted() -> bool:
        current = await stack.session("room-1")
        return current is not None and current.sid not in (None, first.sid)

    await eventually(restarted)
    (exited,) = await stack.deps.history.history("room-1")
    assert (exited.outcome, exited.exit_status) == ("exited", 0)


async def test_a_duplicate_event_is_applied_once(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    sid = first.sid or ""
    await stack.recording_event("room-1", 41, sid=sid, uid=first.uid, sequence=4, leave_code=4)
    await stack.arq.hdel(keys.session("room-1"), "leave_code")
    await stack.recording_event("room-1", 41, sid=sid, uid=first.uid, sequence=4, leave_code=4)
    current = await stack.session("room-1")
    assert current is not None
    assert current.leave_code is None


async def test_a_failover_uid_is_noted_on_the_session(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    await stack.recording_event(
        "room-1", 12, sid=first.sid or "", uid=first.uid, sequence=3, new_uid=777
    )
    current = await stack.session("room-1")
    assert current is not None
    assert current.failover_uid == 777


async def test_files_uploaded_after_the_stop_complete_the_history_entry(stack: Stack) -> None:
    await stack.join("room-1", 11)
    first = await stack.until_state("room-1", SessionState.RUNNING)
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def stopped() -> bool:
        return await stack.session("room-1") is None

    await eventually(stopped)
    (stopped_entry,) = await stack.deps.history.history("room-1")
    files = (RecordedFile("late.m3u8"), RecordedFile("late_0.mp4"))
    sid = first.sid or ""
    await stack.recording_event("room-1", 32, sid=sid, uid=first.uid, sequence=7, file_list=files)
    await stack.recording_event("room-1", 11, sid=sid, uid=first.uid, sequence=8, exit_status=0)
    (entry,) = await stack.deps.history.history("room-1")
    assert entry.files == (
        *stopped_entry.files,
        RecordingFile("late.m3u8"),
        RecordingFile("late_0.mp4"),
    )
    assert (entry.uploading_status, entry.exit_status, entry.outcome) == ("backuped", 0, "stopped")
    assert await stack.session("room-1") is None


async def test_an_event_of_an_earlier_recording_leaves_the_current_session_alone(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    current = await stack.until_state("room-1", SessionState.RUNNING)
    await stack.recording_event("room-1", 11, sid="0" * 32, uid=current.uid, sequence=1)
    assert await stack.session("room-1") == current


async def test_event_40_of_another_uid_is_only_remembered(stack: Stack) -> None:
    await stack.recording_event("room-9", 40, sid="f" * 32, uid=5, sequence=0)
    sightings = await stack.arq.hgetall(keys.recorder_sightings("room-9"))
    assert sightings == {b"5": b"f" * 32}
    assert await stack.session("room-9") is None
