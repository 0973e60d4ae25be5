"""The files a recording wrote, as kept on its session and its history entry.

Agora reports them more than once and in several shapes: recording events 31/32 (and 71 of
the web recorder) list file objects, the stop answer lists them as objects or, in the
`string` file-list mode of older setups, names one M3U8 file only. Each report is merged
into what is known by `filename` (`merge_files`): a later report adds or corrects details,
and no report ever drops a file.

Stored form (the session hash field `files` and the history entry's `files`): a JSON list of
objects with the keys of design §4 (`filename`, `track_type`, `uid`, `mixed_all_user`,
`is_playable`, `slice_start_time` in Unix ms), unknown details left out. Entries stored
before the objects were introduced hold plain file names; they read as `{"filename": name}`.
The Lua scripts that amend stored files (`sessions_set_fields.lua`,
`history_update_by_sid.lua`) merge the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypeGuard, TypeVar

from worker.events import RecordedFile

#: The details of a file besides its name, by their stored key.
_DETAILS: Final = (
    "track_type",
    "uid",
    "mixed_all_user",
    "is_playable",
    "slice_start_time",
)

_T = TypeVar("_T")

#: A file's stored form.
FileJson = dict[str, str | int | bool]


@dataclass(frozen=True, slots=True)
class RecordingFile:
    """One file a recording wrote (None: not reported)."""

    filename: str
    track_type: str | None = None
    """`audio`, `video` or `audio_and_video`."""
    uid: str | None = None
    """The recorded user; "0" for a file mixing all users."""
    mixed_all_user: bool | None = None
    is_playable: bool | None = None
    slice_start_time: int | None = None
    """When the file starts, Unix ms."""

    @classmethod
    def from_event(cls, file: RecordedFile) -> RecordingFile:
        """A file of a recording event's `fileList`."""
        return cls(
            filename=file.file_name,
            track_type=file.track_type,
            uid=str(file.uid) if file.uid is not None else None,
            mixed_all_user=file.mixed_all_user,
            is_playable=file.is_playable,
            slice_start_time=file.slice_start_ms,
        )

    @classmethod
    def from_json(cls, value: object) -> RecordingFile | None:
        """A stored file: an object, or a plain file name (the older form); None if it is
        neither."""
        if isinstance(value, str):
            return cls(filename=value) if value else None
        if not isinstance(value, Mapping):
            return None
        name = value.get("filename")
        if not isinstance(name, str) or not name:
            return None
        start = value.get("slice_start_time")
        return cls(
            filename=name,
            track_type=_of_type(value.get("track_type"), str),
            uid=_of_type(value.get("uid"), str),
            mixed_all_user=_of_type(value.get("mixed_all_user"), bool),
            is_playable=_of_type(value.get("is_playable"), bool),
            slice_start_time=int(start) if _is_number(start) else None,
        )

    def to_json(self) -> FileJson:
        """The stored form: the name and every known detail."""
        stored: FileJson = {"filename": self.filename}
        for name in _DETAILS:
            value = getattr(self, name)
            if value is not None:
                stored[name] = value
        return stored

    def amended(self, later: RecordingFile) -> RecordingFile:
        """This file with the details a later report of it gives."""
        given = {name: getattr(later, name) for name in _DETAILS}
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})


def _of_type(value: object, kind: type[_T]) -> _T | None:
    return value if isinstance(value, kind) else None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def merge_files(
    known: Iterable[RecordingFile], reported: Iterable[RecordingFile]
) -> tuple[RecordingFile, ...]:
    """`known` with a later report merged in by filename: reported details win, new files
    come last, nothing is dropped."""
    merged: dict[str, RecordingFile] = {}
    for file in (*known, *reported):
        earlier = merged.get(file.filename)
        merged[file.filename] = file if earlier is None else earlier.amended(file)
    return tuple(merged.values())


def files_from_json(value: object) -> tuple[RecordingFile, ...]:
    """Stored files (objects or plain names; anything else reads as no files)."""
    if not isinstance(value, list):
        return ()
    return tuple(f for f in map(RecordingFile.from_json, value) if f is not None)


def files_to_json(files: Iterable[RecordingFile]) -> list[FileJson]:
    """The stored form of files."""
    return [file.to_json() for file in files]
