"""Typed internal events: what the normalizer makes of NCS notifications and app events.

    NormalizedEvent
     ├── ChannelEvent    a user joined/left/changed role, or the channel closed (occupancy)
     ├── RecordingEvent  an Agora Cloud Recording notification (NCS productId 3)
     ├── UnknownEvent    a well-formed event of a type we do not handle (counted, acked)
     └── IgnoredEvent    an event that must have no effect (NCS console test, channel create)

All are frozen dataclasses; statuses are StrEnums, Agora's numeric codes IntEnums.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class EventSource(StrEnum):
    """The format an event arrived in."""

    NCS = "ncs"
    """An Agora Notification Center body (webhook or stream field `ncs`)."""
    APP = "app"
    """An app event of design §4 (webhook or stream field `event`)."""


class ChannelEventKind(StrEnum):
    """What happened to a uid (or to the whole channel)."""

    JOIN = "join"
    LEAVE = "leave"
    ROLE_HOST = "role_host"
    ROLE_AUDIENCE = "role_audience"
    CHANNEL_CLOSED = "channel_closed"


class Role(StrEnum):
    """A channel member's role; communication users and hosts count toward occupancy."""

    COMMUNICATION = "communication"
    HOST = "host"
    AUDIENCE = "audience"


#: The uid of a CHANNEL_CLOSED event, which concerns no user (Agora never assigns uid 0).
NO_UID = 0


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A change of one uid's presence or role in a channel, or the channel's end.

    `order` orders one (channel, uid)'s events: NCS `clientSeq`, app `seq`, else `ts_ms`.
    For CHANNEL_CLOSED, `uid` is NO_UID, `role` is None and `order` equals `ts_ms`.
    """

    channel: str
    uid: int
    kind: ChannelEventKind
    role: Role | None
    order: int
    ts_ms: int
    is_recorder: bool
    event_id: str
    source: EventSource
    reason: int | None = None
    """Agora's leave reason (104/106/108), e.g. 999 = abnormal user; None otherwise."""


class RecordingEventType(IntEnum):
    """Agora Cloud Recording notification types (NCS productId 3, agora-facts §4.3)."""

    CLOUD_RECORDING_ERROR = 1
    CLOUD_RECORDING_WARNING = 2
    STATUS_UPDATE = 3
    FILE_INFOS = 4
    SESSION_EXIT = 11
    SESSION_FAILOVER = 12
    UPLOADER_STARTED = 30
    UPLOADED = 31
    BACKUPED = 32
    UPLOADING_PROGRESS = 33
    RECORDER_STARTED = 40
    RECORDER_LEAVE = 41
    RECORDER_SLICE_START = 42
    AUDIO_STREAM_STATE_CHANGED = 43
    VIDEO_STREAM_STATE_CHANGED = 44
    SNAPSHOT_FILE = 45
    VOD_STARTED = 60
    VOD_TRIGGERED = 61
    WEB_RECORDER_STARTED = 70
    WEB_RECORDER_STOPPED = 71
    WEB_RECORDER_CAPABILITY_LIMIT = 72
    WEB_RECORDER_RELOAD = 73
    TRANSCODER_STARTED = 80
    TRANSCODER_COMPLETED = 81
    DOWNLOAD_FAILED = 90
    RTMP_PUBLISH_STATUS = 100
    POSTPONE_TRANSCODE_FINAL_RESULT = 1001


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One file of a `fileList` (events 3, 4, 31, 32, 71)."""

    file_name: str
    track_type: str | None = None
    uid: int | None = None
    """The recorded user's uid; 0 for a mix of all users."""
    mixed_all_user: bool | None = None
    is_playable: bool | None = None
    slice_start_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RecordingDetails:
    """The typed fields of a recording event's `details`; None where the event has none."""

    status: int | None = None
    """Events 3, 30, 31, 32, 40: the status code."""
    leave_code: int | None = None
    """Event 41: bitmask (4 = no users/idle timeout, 16 = leaveChannel called, 2 = SIGINT)."""
    exit_status: int | None = None
    """Event 11: 0 normal exit with files uploaded, 1 abnormal."""
    new_uid: int | None = None
    """Event 12: the random uid the recorder rejoined with after a failover."""
    file_list: tuple[RecordedFile, ...] = ()
    error_code: int | None = None
    """Event 1."""
    error_level: int | None = None
    error_msg: str | None = None
    warn_code: int | None = None
    """Event 2."""
    module: int | None = None
    """Events 1, 2: 0 recorder, 1 uploader."""
    progress: int | None = None
    """Event 33: uploaded/recorded times 10000."""
    recording_mode: int | None = None
    """Event 3: 0 individual, 1 mix."""
    code: int | None = None
    """Event 71: web recorder stop code (0 ok, 1 max_recording_hour, …)."""
    message: str | None = None
    """Event 71: the code's name."""


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    """An Agora Cloud Recording notification about one recording session (`sid`)."""

    channel: str
    uid: int
    """The recorder's uid (a failed-over recorder reports its new uid)."""
    sid: str
    event_type: RecordingEventType
    sequence: int
    """Per-session serial from 0, to detect lost, duplicate or reordered notifications."""
    sendts_ms: int
    service_type: int | None
    msg_name: str
    details: RecordingDetails
    event_id: str
    source: EventSource = EventSource.NCS


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A well-formed event of a product or type we do not handle; kept and counted."""

    product: str
    """`"app"` for app events, else the NCS productId."""
    event_type: str
    event_id: str
    source: EventSource
    channel: str | None = None


class IgnoreReason(StrEnum):
    """Why a valid event has no effect at all."""

    TEST_CHANNEL = "test_channel"
    """The NCS console's health-check events (channel `test_webhook`, uid 12121212)."""
    CHANNEL_CREATE = "channel_create"
    """NCS 101: the join events that follow carry everything occupancy needs."""


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A valid event that must change nothing."""

    reason: IgnoreReason
    event_id: str
    source: EventSource
    channel: str | None = None


NormalizedEvent = ChannelEvent | RecordingEvent | UnknownEvent | IgnoredEvent
