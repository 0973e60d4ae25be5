"""The channel and recording objects of the API, from what Redis holds (pure mapping)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from worker.policies import Mode
from worker.state.channel_state import ChannelState
from worker.state.files import RecordingFile
from worker.state.history import HistoryEntry, Outcome
from worker.state.overrides import Override, Record
from worker.state.sessions import Session, SessionState
from worker.state.views import agora_error, channel_view, history_view, session_view

OCCUPIED = ChannelState(
    occupancy=2,
    desired=True,
    gen=3,
    hosts=2,
    audience=0,
    empty_since_ms=None,
    updated_ms=1_000,
    closed_ts_ms=None,
)
RUNNING = Session(
    channel="room-1",
    state=SessionState.RUNNING,
    uid=4200000001,
    uid_index=0,
    mode=Mode.INDIVIDUAL,
    policy="default policy",
    created_ms=1_000,
    resource_id="res",
    sid="sid-1",
    started_ms=2_000,
    streams="audio",
)


def test_a_recording_channel_shows_its_recording_with_times_and_duration() -> None:
    view = channel_view(
        "room-1", now_ms=12_000, state=OCCUPIED, session=RUNNING, override=None, waiting=()
    )
    assert (view.state, view.occupancy, view.desired, view.waiting_position) == (
        "recording",
        2,
        True,
        None,
    )
    recording = view.recording
    assert recording is not None
    assert (recording.id, recording.sid, recording.mode, recording.streams) == (
        "sid-1",
        "sid-1",
        "individual",
        "audio",
    )
    assert recording.started_at == datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert recording.duration_s == 10.0


def test_a_channel_in_the_queue_shows_its_place_in_line() -> None:
    view = channel_view(
        "b", now_ms=5_000, state=OCCUPIED, session=None, override=None, waiting=("a", "b")
    )
    assert (view.state, view.waiting_position) == ("waiting", 2)


def test_a_manual_stop_shows_as_not_desired_with_its_override() -> None:
    override = Override(Record.NEVER, set_at_ms=3_000, until_empty=True)
    view = channel_view(
        "room-1", now_ms=5_000, state=OCCUPIED, session=None, override=override, waiting=()
    )
    assert not view.desired
    assert view.override is not None
    assert (view.override.record, view.override.until_empty) == ("never", True)


def test_an_expired_override_is_not_shown() -> None:
    override = Override(Record.ALWAYS, set_at_ms=1_000, expires_at_ms=2_000)
    view = channel_view(
        "room-1", now_ms=5_000, state=None, session=None, override=override, waiting=()
    )
    assert view.override is None
    assert not view.desired


def test_a_finished_recording_carries_outcome_reason_files_and_upload_status() -> None:
    entry = HistoryEntry(
        channel="room-1",
        outcome=Outcome.STOPPED,
        uid=4200000001,
        mode=Mode.MIX,
        policy="default policy",
        created_ms=1_000,
        ended_ms=61_000,
        sid="sid-9",
        started_ms=1_000,
        stop_reason="manual",
        files=(RecordingFile("sid-9_room-1.m3u8"),),
        uploading_status="uploaded",
        streams="both",
    )
    view = history_view(entry)
    assert (view.state, view.outcome, view.stop_reason, view.upload_status) == (
        "finished",
        "stopped",
        "manual",
        "uploaded",
    )
    assert [f.filename for f in view.files] == ["sid-9_room-1.m3u8"]
    assert view.duration_s == 60.0


def test_a_start_that_failed_shows_agoras_status_code_and_reason() -> None:
    entry = HistoryEntry(
        channel="room-1",
        outcome=Outcome.START_FAILED,
        uid=4200000001,
        mode=Mode.MIX,
        policy="default policy",
        created_ms=1_000,
        ended_ms=2_000,
        last_error="AgoraInvalidRequest: start: HTTP 400 code 2: invalid appid (invalid)",
    )
    view = history_view(entry)
    assert view.outcome == "failed"
    assert view.id == "r1000-4200000001"
    assert view.error is not None
    assert (view.error.status, view.error.code, view.error.reason) == (400, 2, "invalid appid")


def test_an_error_line_without_an_agora_answer_keeps_its_text() -> None:
    error = agora_error("AgoraTransportError: ConnectTimeout")
    assert error is not None
    assert (error.status, error.code) == (None, None)


def test_a_session_still_starting_has_a_provisional_id() -> None:
    starting = Session(
        channel="room-1",
        state=SessionState.ACQUIRING,
        uid=7,
        uid_index=0,
        mode=Mode.MIX,
        policy="p",
        created_ms=5,
    )
    view = session_view(starting, now_ms=10)
    assert (view.id, view.state, view.sid) == ("r5-7", "starting", None)


def test_a_first_segment_is_its_own_logical_recording() -> None:
    view = session_view(RUNNING, now_ms=12_000)
    assert (view.segment, view.logical_id) == (1, "sid-1")


def test_a_continued_recording_shows_its_segment_and_the_first_segments_id() -> None:
    continued = dataclasses.replace(RUNNING, segment=3, logical_id="sid-0")
    view = session_view(continued, now_ms=12_000)
    assert (view.id, view.segment, view.logical_id) == ("sid-1", 3, "sid-0")


def test_a_finished_segment_shows_its_place_and_every_detail_of_its_files() -> None:
    file = RecordingFile(
        filename="sid-1_room-1.m3u8",
        track_type="audio",
        uid="57297",
        mixed_all_user=False,
        is_playable=True,
        slice_start_time=1_619_172_871_089,
    )
    entry = HistoryEntry(
        channel="room-1",
        outcome=Outcome.STOPPED,
        uid=4200000001,
        mode=Mode.INDIVIDUAL,
        policy="default policy",
        created_ms=1_000,
        ended_ms=61_000,
        sid="sid-1",
        stop_reason="max_duration",
        files=(file,),
        segment=2,
        logical_id="sid-0",
    )
    view = history_view(entry)
    assert (view.segment, view.logical_id, view.stop_reason) == (2, "sid-0", "max_duration")
    assert view.files == [file]
