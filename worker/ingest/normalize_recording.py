"""Pure normalization of Agora Cloud Recording notifications (NCS productId 3).

The envelope fields the controller relies on (cname, uid, sid, sequence, sendts) are
required; `details` is read leniently: Agora adds fields over time and its documented types
are not always what is sent, so a detail of an unexpected type is None, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.events import (
    EventSource,
    IgnoredEvent,
    IgnoreReason,
    NormalizedEvent,
    RecordedFile,
    RecordingDetails,
    RecordingEvent,
    RecordingEventType,
    UnknownEvent,
)
from worker.ingest.normalize_fields import (
    MAX_CHANNEL_BYTES,
    TS_MS_MAX,
    UID_MAX,
    NormalizeError,
    as_int,
    describe,
    read_channel,
    read_int,
    read_optional_int,
    read_str,
)

PRODUCT_RECORDING = 3
#: The NCS console's health-check events use this channel (agora-facts §4.2).
TEST_CHANNEL = "test_webhook"
_MAX_TEXT_CHARS = 1024
_KNOWN_TYPES = frozenset(RecordingEventType)


def normalize_recording(
    event_type: int, payload: Mapping[str, object], *, event_id: str
) -> NormalizedEvent:
    """A productId 3 payload as a RecordingEvent (UnknownEvent for undocumented types)."""
    if event_type not in _KNOWN_TYPES:
        cname = payload.get("cname")
        channel = cname if isinstance(cname, str) and len(cname) <= MAX_CHANNEL_BYTES else None
        return UnknownEvent(
            str(PRODUCT_RECORDING), str(event_type), event_id, EventSource.NCS, channel
        )
    channel = read_channel(payload, "cname")
    if channel == TEST_CHANNEL:
        return IgnoredEvent(IgnoreReason.TEST_CHANNEL, event_id, EventSource.NCS, channel)
    details = payload.get("details")
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise NormalizeError(f"must be an object, got {describe(details)}", field="details")
    msg_name = details.get("msgName")
    return RecordingEvent(
        channel=channel,
        uid=read_int(payload, "uid", hi=UID_MAX, digits=True),
        sid=read_str(payload, "sid"),
        event_type=RecordingEventType(event_type),
        sequence=read_int(payload, "sequence", hi=TS_MS_MAX, digits=True),
        sendts_ms=read_int(payload, "sendts", hi=TS_MS_MAX, digits=True),
        service_type=read_optional_int(payload, "serviceType", hi=2**31),
        msg_name=msg_name[:_MAX_TEXT_CHARS] if isinstance(msg_name, str) else "",
        details=_details(details),
        event_id=event_id,
    )


def _opt_int(obj: Mapping[str, object], name: str) -> int | None:
    return as_int(obj.get(name), digits=True)


def _opt_text(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value[:_MAX_TEXT_CHARS] if isinstance(value, str) else None


def _opt_bool(obj: Mapping[str, object], name: str) -> bool | None:
    value = obj.get(name)
    return value if isinstance(value, bool) else None


def _file(item: object) -> RecordedFile | None:
    if isinstance(item, str):
        return RecordedFile(file_name=item[:_MAX_TEXT_CHARS]) if item else None
    if not isinstance(item, dict):
        return None
    # Event 71 spells it `filename`; the others `fileName`.
    name = _opt_text(item, "fileName") or _opt_text(item, "filename")
    if not name:
        return None
    return RecordedFile(
        file_name=name,
        track_type=_opt_text(item, "trackType"),
        uid=_opt_int(item, "uid"),
        mixed_all_user=_opt_bool(item, "mixedAllUser"),
        is_playable=_opt_bool(item, "isPlayable"),
        slice_start_ms=_opt_int(item, "sliceStartTime"),
    )


def _file_list(value: object) -> tuple[RecordedFile, ...]:
    # Events 3 and 4 send a single m3u8 name; 31, 32 and 71 a list of objects.
    items = value if isinstance(value, list) else [value]
    return tuple(f for f in map(_file, items) if f is not None)


def _details(details: Mapping[str, object]) -> RecordingDetails:
    new_uid = _opt_int(details, "newUid")
    return RecordingDetails(
        status=_opt_int(details, "status"),
        leave_code=_opt_int(details, "leaveCode"),
        exit_status=_opt_int(details, "exitStatus"),
        new_uid=new_uid if new_uid is not None and 1 <= new_uid <= UID_MAX else None,
        file_list=_file_list(details.get("fileList")),
        error_code=_opt_int(details, "errorCode"),
        error_level=_opt_int(details, "errorLevel"),
        error_msg=_opt_text(details, "errorMsg"),
        warn_code=_opt_int(details, "warnCode"),
        module=_opt_int(details, "module"),
        progress=_opt_int(details, "progress"),
        recording_mode=_opt_int(details, "recordingMode"),
        code=_opt_int(details, "code"),
        message=_opt_text(details, "message"),
    )
