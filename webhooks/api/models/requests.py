"""Request bodies of the API (design §4 "App-facing API").

The per-recording policy fields carry the names of `worker.policies.model.Policy` and only
their types here: whether a combination is valid (mode and fields, bounds, the transcoding
size) is decided by merging them into the channel's policy and validating the real `Policy`,
so the API and the policy file can never disagree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from webhooks.api.models.common import RequestModel, Rfc3339, StreamUid
from webhooks.api.params import CHANNEL_PATTERN, channel_problem
from worker.policies.enums import (
    ChannelType,
    FileTypes,
    Layout,
    Mode,
    StreamMode,
    Streams,
    VideoStreamType,
)
from worker.state.changes import RecordingChange
from worker.state.overrides import Record

MAX_SUBSCRIBE_UIDS = 32
TOKEN_UID_MAX = 2**32 - 1
TOKEN_ACCOUNT_MAX_BYTES = 255
TOKEN_MAX_EXPIRE_S = 86_400

_UidList = Annotated[list[StreamUid], Field(min_length=1, max_length=MAX_SUBSCRIBE_UIDS)]


class TranscodingFields(RequestModel):
    """Mix composition overrides (`Policy.transcoding`); unset fields keep the policy's."""

    width: int | None = Field(default=None, description="Mixed video width, px.")
    height: int | None = Field(default=None, description="Mixed video height, px.")
    fps: int | None = Field(default=None, description="1, 7, 10, 15, 24, 30 or 60.")
    bitrate_kbps: int | None = Field(default=None, description="Video bitrate, kbps.")
    layout: Layout | None = None
    background_color: str | None = Field(default=None, description="#RRGGBB.")
    max_resolution_uid: str | int | None = Field(
        default=None, description="The uid shown large in the vertical layout."
    )
    background_image: str | None = Field(default=None, description="HTTPS image URL.")
    default_user_background_image: str | None = None


class PolicyFields(RequestModel):
    """Per-recording policy fields (design §6); unset fields keep the channel's policy."""

    mode: Mode | None = None
    streams: Streams | None = None
    max_idle_s: int | None = Field(default=None, description="Agora maxIdleTime, seconds.")
    max_duration_s: int | None = Field(
        default=None, description="Longest one recording; a longer one continues as a segment."
    )
    file_types: FileTypes | None = None
    storage_prefix: str | None = Field(default=None, description="fileNamePrefix template.")
    channel_type: ChannelType | None = None
    video_stream_type: VideoStreamType | None = None
    subscribe_audio_uids: _UidList | None = None
    unsubscribe_audio_uids: _UidList | None = None
    subscribe_video_uids: _UidList | None = None
    unsubscribe_video_uids: _UidList | None = None
    audio_profile: int | None = Field(default=None, description="Agora audioProfile 0-2.")
    transcoding: TranscodingFields | None = None
    expected_users: int | None = None
    stream_mode: StreamMode | None = None
    snapshot_interval_s: int | None = None
    web_url: str | None = Field(default=None, description="Page to record; {channel} allowed.")
    web_width: int | None = None
    web_height: int | None = None
    web_fps: int | None = None
    web_bitrate_kbps: int | None = None
    web_mobile: bool | None = None
    web_max_video_duration_min: int | None = None
    web_ready_timeout_s: int | None = None

    def policy_overrides(self) -> dict[str, Any]:
        """The policy fields the caller set, as `Policy` keyword values (nested too)."""
        return self.model_dump(
            mode="json", exclude_unset=True, include=set(PolicyFields.model_fields)
        )


class RecordRequest(PolicyFields):
    """`POST /channels/{channel}/recording`: record now (override `always`)."""

    expires_at: Rfc3339 | None = Field(
        default=None, description="When the override ends by itself (RFC 3339)."
    )


class OverrideRequest(PolicyFields):
    """`PUT /channels/{channel}/override`: the override in full."""

    record: Record
    until_empty: bool = Field(
        default=False, description="The override ends when the channel is next empty."
    )
    expires_at: Rfc3339 | None = Field(
        default=None, description="When the override ends by itself (RFC 3339)."
    )


PatchRecordingRequest = RecordingChange
"""`PATCH /channels/{channel}/recording`: one change of a running recording (`layout`,
`subscribe` or `web`): the worker's own change model, shared with the job that applies it."""


def _token_uid(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= TOKEN_UID_MAX:
            raise ValueError(f"must be an integer from 0 to {TOKEN_UID_MAX} or a user account")
        return value
    if isinstance(value, str) and 0 < len(value.encode("utf-8")) <= TOKEN_ACCOUNT_MAX_BYTES:
        return value
    raise ValueError(
        f"must be an integer from 0 to {TOKEN_UID_MAX} or a user account of 1 to "
        f"{TOKEN_ACCOUNT_MAX_BYTES} bytes"
    )


def _channel_name(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    problem = channel_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class TokenRequest(RequestModel):
    """`POST /tokens`: an AccessToken2 RTC token for a user of a channel."""

    channel: Annotated[
        str,
        BeforeValidator(_channel_name),
        Field(description="Channel name.", json_schema_extra={"pattern": CHANNEL_PATTERN}),
    ]
    uid: Annotated[
        int | str,
        BeforeValidator(_token_uid),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": TOKEN_UID_MAX},
                    {"type": "string", "minLength": 1, "maxLength": TOKEN_ACCOUNT_MAX_BYTES},
                ],
                "description": "Integer uid (0: any uid) or a user account string.",
            }
        ),
    ]
    role: Literal["publisher", "subscriber"] = "publisher"
    expire_s: int = Field(
        default=3600,
        ge=1,
        le=TOKEN_MAX_EXPIRE_S,
        description="Validity of the token and its privileges, seconds.",
    )
