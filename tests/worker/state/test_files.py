"""A recording's files: their stored form, the older form of plain names, and merging later
reports by filename (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.events import RecordedFile
from worker.state.files import RecordingFile, files_from_json, files_to_json, merge_files

AUDIO = RecordingFile(
    filename="sid_room-1__uid_s_57297__uid_e_audio.m3u8",
    track_type="audio",
    uid="57297",
    mixed_all_user=False,
    is_playable=True,
    slice_start_time=1_619_172_871_089,
)

files = st.builds(
    RecordingFile,
    filename=st.sampled_from(["a.m3u8", "a_0.mp4", "b.m3u8", "c.m3u8"]),
    track_type=st.none() | st.sampled_from(["audio", "video", "audio_and_video"]),
    uid=st.none() | st.sampled_from(["0", "11", "57297"]),
    mixed_all_user=st.none() | st.booleans(),
    is_playable=st.none() | st.booleans(),
    slice_start_time=st.none() | st.integers(0, 2**53),
)


def test_a_file_of_an_event_keeps_every_detail_with_the_uid_as_text() -> None:
    reported = RecordedFile(
        file_name=AUDIO.filename,
        track_type="audio",
        uid=57297,
        mixed_all_user=False,
        is_playable=True,
        slice_start_ms=1_619_172_871_089,
    )
    assert RecordingFile.from_event(reported) == AUDIO


def test_a_file_is_stored_with_its_known_details_only() -> None:
    assert files_to_json([RecordingFile("a.m3u8", uid="0")]) == [{"filename": "a.m3u8", "uid": "0"}]


def test_a_file_stored_as_a_plain_name_reads_as_a_file_of_that_name() -> None:
    assert files_from_json(["a.m3u8", {"filename": "b.m3u8", "uid": "0"}]) == (
        RecordingFile("a.m3u8"),
        RecordingFile("b.m3u8", uid="0"),
    )


def test_stored_files_that_are_not_a_list_read_as_none() -> None:
    # A Lua script re-encoding an empty list writes `{}`.
    assert files_from_json({}) == ()


def test_a_later_report_adds_details_to_a_file_known_by_name_only() -> None:
    assert merge_files([RecordingFile(AUDIO.filename)], [AUDIO]) == (AUDIO,)


def test_a_later_report_with_fewer_details_keeps_those_known() -> None:
    assert merge_files([AUDIO], [RecordingFile(AUDIO.filename, is_playable=False)]) == (
        RecordingFile(
            filename=AUDIO.filename,
            track_type="audio",
            uid="57297",
            mixed_all_user=False,
            is_playable=False,
            slice_start_time=1_619_172_871_089,
        ),
    )


@given(st.lists(files), st.lists(files))
def test_a_merge_keeps_every_file_once_in_the_order_first_reported(
    known: list[RecordingFile], reported: list[RecordingFile]
) -> None:
    merged = merge_files(known, reported)
    names = [f.filename for f in (*known, *reported)]
    assert [f.filename for f in merged] == list(dict.fromkeys(names))


@given(st.lists(files), st.lists(files))
def test_merging_the_same_report_again_changes_nothing(
    known: list[RecordingFile], reported: list[RecordingFile]
) -> None:
    once = merge_files(known, reported)
    assert merge_files(once, reported) == once


@given(st.lists(files))
def test_files_read_back_from_their_stored_form(stored: list[RecordingFile]) -> None:
    unique = merge_files((), stored)
    assert files_from_json(files_to_json(unique)) == unique
