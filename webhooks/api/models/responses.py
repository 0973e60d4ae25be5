"""Answers of the API (design §4 "App-facing API"): errors, channels, recordings, tokens, status,
notifications.

Every key of the design's objects is always present (null when unknown); times are RFC 3339
in UTC.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from webhooks.api.models.common import (
    ChannelState,
    NotificationStatus,
    RecordingOutcome,
    RecordingState,
    ResponseModel,
    StopReason,
    UploadStatus,
    UtcTime,
)
from worker.policies.enums import Mode, Streams
from worker.state.outbox import DeliveryStatus, NotificationType
from worker.state.overrides import Record


class ErrorOut(BaseModel):
    """Every error answer: the reason in one line, and the input at fault when there is one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error: str
    field: str | None = Field(
        default=None, description="Dotted path of the input at fault (absent when none is)."
    )


class RecordingFile(ResponseModel):
    """One recorded file, as Agora reports it."""

    filename: str
    track_type: str | None = Field(description="audio, video or audio_and_video.")
    uid: str | None = Field(description='The recorded user; "0" for a mixed file.')
    mixed_all_user: bool | None
    is_playable: bool | None
    slice_start_time: int | None = Field(description="When the file starts, Unix ms.")


class AgoraErrorOut(ResponseModel):
    """The Agora answer that failed a recording."""

    status: int | None = Field(description="HTTP status of Agora's answer (null: none came).")
    code: int | None = Field(description="Agora's error code.")
    reason: str = Field(description="Agora's reason, or what went wrong.")


class RecordingOut(ResponseModel):
    """One recording (one segment of a logical recording)."""

    id: str = Field(description="The Agora sid once known.")
    channel: str
    sid: str | None
    resource_id: str | None
    recorder_uid: int
    mode: Mode
    streams: Streams | None
    started_at: UtcTime | None
    stopped_at: UtcTime | None
    duration_s: float | None
    state: RecordingState
    outcome: RecordingOutcome | None
    stop_reason: StopReason | None
    error: AgoraErrorOut | None
    upload_status: UploadStatus | None
    files: list[RecordingFile]
    segment: int = Field(ge=1, description="Position in the logical recording, from 1.")
    logical_id: str = Field(description="Shared by the segments split by max_duration_s.")


class OverrideOut(ResponseModel):
    """A manual override of the channel's desired state."""

    record: Record
    until_empty: bool
    expires_at: UtcTime | None
    set_at: UtcTime


class ChannelOut(ResponseModel):
    """One tracked channel."""

    channel: str
    state: ChannelState
    occupancy: int = Field(ge=0, description="Users present who count toward recording.")
    desired: bool = Field(description="Whether the channel should be recording now.")
    override: OverrideOut | None
    waiting_position: int | None = Field(ge=1, description="1 = next to get a slot.")
    recording: RecordingOut | None


class ChannelPage(ResponseModel):
    """A page of channels."""

    channels: list[ChannelOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class RecordingPage(ResponseModel):
    """A page of the recording catalog, newest first."""

    recordings: list[RecordingOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class TokenOut(ResponseModel):
    """An AccessToken2 RTC token."""

    token: str
    expires_at: UtcTime


class SlotsOut(ResponseModel):
    """The recording limit."""

    used: int = Field(description="Slot leases held (may exceed the limit after a recovery).")
    limit: int = Field(description="AUTOREC_MAX_RECORDINGS.")


class AgoraRateOut(ResponseModel):
    """Agora requests against the shared request-rate limit."""

    last_second: int = Field(description="Agora requests sent in the last second.")
    limit_per_s: float = Field(description="AUTOREC_MAX_API_QPS.")


class EventsOut(ResponseModel):
    """The events stream."""

    stream: str
    length: int = Field(description="Entries in the stream.")
    pending: int = Field(description="Entries delivered to a worker and not yet applied.")
    dead_letters: int = Field(description="Entries in the dead-letter stream.")


class WorkerOut(ResponseModel):
    """A worker consuming the events stream."""

    name: str
    last_seen_at: UtcTime = Field(description="Its last read of the stream.")
    pending: int = Field(description="Entries it holds unacknowledged.")


class StatusOut(ResponseModel):
    """The controller at a glance."""

    now: UtcTime = Field(description="Redis server time of the reading.")
    slots: SlotsOut
    waiting: list[str] = Field(description="Channels waiting for a slot, next first.")
    waiting_total: int = Field(description="All waiting channels (`waiting` shows the first).")
    agora_requests: AgoraRateOut
    events: EventsOut
    workers: list[WorkerOut] = Field(description="Stream consumers, most recently seen first.")


class DeliveryOut(ResponseModel):
    """One endpoint's delivery of a notification."""

    endpoint: str = Field(
        description="The endpoint's id: the first 16 hex digits of the SHA-256 of its URL "
        "(the URL itself is never shown: it may hold a token)."
    )
    status: DeliveryStatus = Field(
        description="gone: the endpoint answered 410, so this message is not retried to it."
    )
    attempts: int = Field(ge=0, description="Attempts made so far.")
    next_attempt_at: UtcTime | None = Field(description="When it is tried next (while pending).")
    last_result: str | None = Field(
        description='The last attempt\'s result: "HTTP <status>", or the error when no answer '
        "came (e.g. ConnectError, ReadTimeout)."
    )
    last_attempt_at: UtcTime | None


class NotificationOut(ResponseModel):
    """One outgoing notification and its delivery to each endpoint."""

    id: str = Field(description="The message id: the `webhook-id` header of every attempt.")
    type: NotificationType
    recording: str = Field(
        description="What orders delivery: notifications with the same value are delivered "
        "in the order they were written."
    )
    created_at: UtcTime
    status: NotificationStatus
    deliveries: list[DeliveryOut]
    payload: dict[str, Any] = Field(
        description='The body sent: {"type", "timestamp", "data": <recording object>}.'
    )


class NotificationPage(ResponseModel):
    """Notifications of one status."""

    notifications: list[NotificationOut]
