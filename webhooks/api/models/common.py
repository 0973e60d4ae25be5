"""Shared pieces of the API models: base classes, RFC 3339 times, uids, the status enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    WithJsonSchema,
)

from webhooks.api.params import parse_rfc3339
from worker.policies.uids import ALL_STREAMS, UID_MAX, parse_uid


class RequestModel(BaseModel):
    """A request body: unknown keys refused, immutable, inputs never echoed in errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ResponseModel(BaseModel):
    """An answer: every key always present (null when unknown), so the schema requires all.

    Built from the worker's views too (`ChannelOut.model_validate(view)`, from attributes).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
    )


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):  # built in Python, not parsed from JSON
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time string, e.g. 2025-01-31T12:00:00Z")
    return parse_rfc3339(value)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]
"""An input time: an RFC 3339 string with a time zone, held in UTC."""
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An output time: RFC 3339 in UTC (`2025-01-31T12:00:00Z`)."""


def _stream_uid(value: Any) -> str:
    return ALL_STREAMS if value == ALL_STREAMS else parse_uid(value)


StreamUid = Annotated[
    str,
    BeforeValidator(_stream_uid),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": UID_MAX},
                {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"},
                {"const": ALL_STREAMS},
            ],
            "description": f'An Agora uid (1 to {UID_MAX}), or "{ALL_STREAMS}" for every stream.',
        }
    ),
]
"""A subscription-list entry: a uid or `#allstream#`."""


class ChannelState(StrEnum):
    """Where a channel's recording is."""

    IDLE = "idle"
    WAITING = "waiting"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"


class RecordingState(StrEnum):
    """Where one recording is: the channel's states while it lives, then `finished`."""

    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"
    FINISHED = "finished"


class RecordingOutcome(StrEnum):
    """How a recording ended."""

    STOPPED = "stopped"
    DIED = "died"
    FAILED = "failed"


class StopReason(StrEnum):
    """Why a recording was stopped."""

    EMPTY = "empty"
    MANUAL = "manual"
    MAX_DURATION = "max_duration"
    POLICY = "policy"
    LEAK = "leak"
    AGORA = "agora"


class UploadStatus(StrEnum):
    """Where the files went: Agora's `uploadingStatus`."""

    UPLOADED = "uploaded"
    BACKUPED = "backuped"
    UNKNOWN = "unknown"


class NotificationStatus(StrEnum):
    """Where a notification is, over all its endpoints: pending while any endpoint still
    has it to deliver; else failed if any endpoint failed it (or answered 410); else
    delivered."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
