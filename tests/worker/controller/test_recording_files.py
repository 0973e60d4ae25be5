"""A recording's files: every detail Agora reports, from recording events 31/32 and from the
stop answer in both of its formats, merged by filename."""

from __future__ import annotations

import pytest

from sandbox.faults import FaultRule
from sandbox.recordings import recorded_files
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker.events import RecordedFile
from worker.state.files import RecordingFile
from worker.state.history import HistoryEntry
from worker.state.sessions import Session, SessionState


@pytest.fixture
def policy_text() -> str:
    return """
[[rule]]
match = "mp4-*"
file_types = "hls+mp4"
[[rule]]
match = "*"
"""


def uploaded(name: str) -> RecordedFile:
    """A mixed file as recording event 31 lists it."""
    return RecordedFile(
        file_name=name,
        track_type="audio_and_video",
        uid=0,
        mixed_all_user=True,
        is_playable=True,
        slice_start_ms=1_619_170_461_821,
    )


def described(name: str) -> RecordingFile:
    """The file of `uploaded(name)`, as the catalog keeps it."""
    return RecordingFile(
        filename=name,
        track_type="audio_and_video",
        uid="0",
        mixed_all_user=True,
        is_playable=True,
        slice_start_time=1_619_170_461_821,
    )


async def recording(stack: Stack, channel: str) -> tuple[Session, str]:
    """A running recording of `channel` and the name of its (first) M3U8 file at Agora."""
    await stack.join(channel, 11)
    session = await stack.until_state(channel, SessionState.RUNNING)
    (task,) = stack.running(channel)
    return session, recorded_files(task)[0].file_name


async def stopped(stack: Stack, channel: str) -> HistoryEntry:
    """The last user leaves; the recording's history entry once it is stopped."""
    await stack.leave(channel, 11)
    await stack.start_worker()

    async def ended() -> bool:
        return await stack.session(channel) is None

    await eventually(ended, what="the recording to stop")
    (entry,) = await stack.deps.history.history(channel)
    return entry


async def test_event_31_files_keep_every_detail_on_the_running_session(stack: Stack) -> None:
    session, name = await recording(stack, "room-1")
    await stack.recording_event(
        "room-1",
        31,
        sid=session.sid or "",
        uid=session.uid,
        sequence=5,
        file_list=(uploaded(name),),
    )
    current = await stack.session("room-1")
    assert current is not None
    assert current.files == (described(name),)


async def test_a_stop_answer_listing_file_objects_keeps_every_detail(stack: Stack) -> None:
    await recording(stack, "mp4-1")
    entry = await stopped(stack, "mp4-1")
    assert [f.filename.rsplit("_", 1)[-1] for f in entry.files] == ["mp4-1.m3u8", "0.mp4"]
    for file in entry.files:
        assert (file.track_type, file.uid, file.mixed_all_user, file.is_playable) == (
            "audio_and_video",
            "0",
            True,
            True,
        )
        assert file.slice_start_time is not None


async def test_a_stop_answer_naming_one_file_keeps_its_name(stack: Stack) -> None:
    _, name = await recording(stack, "room-1")
    entry = await stopped(stack, "room-1")
    assert entry.files == (RecordingFile(name),)


async def test_details_of_event_31_survive_a_stop_answer_naming_the_file_only(
    stack: Stack,
) -> None:
    session, name = await recording(stack, "room-1")
    await stack.recording_event(
        "room-1",
        31,
        sid=session.sid or "",
        uid=session.uid,
        sequence=5,
        file_list=(uploaded(name),),
    )
    entry = await stopped(stack, "room-1")
    assert entry.files == (described(name),)


async def test_event_31_after_the_stop_adds_details_to_the_file_the_stop_named(
    stack: Stack,
) -> None:
    session, name = await recording(stack, "room-1")
    await stopped(stack, "room-1")
    await stack.recording_event(
        "room-1",
        31,
        sid=session.sid or "",
        uid=session.uid,
        sequence=9,
        file_list=(uploaded(name),),
    )
    (entry,) = await stack.deps.history.history("room-1")
    assert (entry.files, entry.uploading_status) == ((described(name),), "uploaded")


async def test_details_of_event_31_arriving_while_the_stop_waits_for_the_upload_are_kept(
    stack: Stack,
) -> None:
    session, name = await recording(stack, "room-1")
    # A synchronous stop answers once the uploads are done; event 31 often comes meanwhile.
    stack.world.faults.add(FaultRule(endpoint="stop", latency_ms=800, count=1))
    await stack.leave("room-1", 11)
    await stack.start_worker()

    async def stop_in_flight() -> bool:
        current = await stack.session("room-1")
        return current is not None and current.stop_attempts == 1

    await eventually(stop_in_flight, what="the stop to be sent")
    await stack.recording_event(
        "room-1",
        31,
        sid=session.sid or "",
        uid=session.uid,
        sequence=5,
        file_list=(uploaded(name),),
    )

    async def ended() -> bool:
        return await stack.session("room-1") is None

    await eventually(ended, what="the stop's answer")
    (entry,) = await stack.deps.history.history("room-1")
    assert (entry.files, entry.uploading_status) == ((described(name),), "uploaded")
