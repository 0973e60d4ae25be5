"""Answers of the Agora REST API, parsed defensively (unknown fields ignored)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from worker.agora.models.common import ResponseModel


class RecordingStatus(IntEnum):
    """`serverResponse.status` of query (agora-facts §2.5)."""

    NOT_STARTED = 0
    INITIALIZED = 1
    STARTING = 2
    PARTLY_READY = 3
    READY = 4
    IN_PROGRESS = 5
    STOP_REQUESTED = 6
    STOPPED = 7
    EXITED = 8
    EXITED_ABNORMALLY = 20


RUNNING_STATUSES = frozenset({RecordingStatus.READY, RecordingStatus.IN_PROGRESS})
"""Agora's success criterion for a started task."""


class FileListMode(StrEnum):
    """Shape of `fileList`: one M3U8 name, or a list of file objects."""

    STRING = "string"
    JSON = "json"


class UploadingStatus(StrEnum):
    """`uploadingStatus` of a stop answer."""

    UPLOADED = "uploaded"
    BACKUPED = "backuped"
    UNKNOWN = "unknown"


class RecordedFile(ResponseModel):
    """One recorded file (M3U8 or MP4)."""

    file_name: str = Field(validation_alias=AliasChoices("fileName", "filename", "file_name"))
    track_type: str | None = None
    """`audio`, `video` or `audio_and_video`."""
    uid: str | None = None
    """The recorded user; "0" in mix mode."""
    mixed_all_user: bool | None = None
    is_playable: bool | None = None
    slice_start_time_ms: int | None = Field(
        default=None, validation_alias=AliasChoices("sliceStartTime", "slice_start_time_ms")
    )

    @field_validator("uid", mode="before")
    @classmethod
    def _uid_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class RtmpOutputState(ResponseModel):
    """One CDN output of the RTMP publish service."""

    rtmp_url: str | None = None
    status: str | None = None
    """`connecting`, `publishing`, `onhold` or `disconnected`."""


class ExtensionServicePayload(ResponseModel):
    """`payload` of an extension service state (web recorder, RTMP, upload service)."""

    file_list: list[RecordedFile] = Field(default_factory=list)
    onhold: bool | None = None
    state: str | None = None
    """`init`, `inProgress` or `exit`."""
    outputs: list[RtmpOutputState] = Field(default_factory=list)
    uploading_status: str | None = None


class ExtensionServiceState(ResponseModel):
    """State of one extension service (web mode)."""

    service_name: str
    payload: ExtensionServicePayload = Field(default_factory=ExtensionServicePayload)

    @model_validator(mode="before")
    @classmethod
    def _payload_typo(cls, data: Any) -> Any:
        # An older schema spells the key "playload".
        if isinstance(data, dict) and "payload" not in data and "playload" in data:
            return {**data, "payload": data["playload"]}
        return data


class ServerResponse(ResponseModel):
    """`serverResponse` of query and stop; `file_list` is always a list of files."""

    status: int | None = None
    file_list_mode: str | None = None
    file_list: list[RecordedFile] = Field(default_factory=list)
    slice_start_time_ms: int | None = Field(
        default=None, validation_alias=AliasChoices("sliceStartTime", "slice_start_time_ms")
    )
    uploading_status: str | None = None
    extension_service_state: list[ExtensionServiceState] = Field(default_factory=list)

    @field_validator("file_list", mode="before")
    @classmethod
    def _string_mode(cls, value: object) -> object:
        # fileListMode "string": the whole list is one M3U8 name.
        if value is None:
            return []
        if isinstance(value, str):
            return [{"fileName": value}] if value else []
        return value

    @property
    def recording_status(self) -> RecordingStatus | None:
        """`status` as a known RecordingStatus (None if absent or undocumented)."""
        if self.status is None:
            return None
        try:
            return RecordingStatus(self.status)
        except ValueError:
            return None

    @property
    def is_running(self) -> bool:
        """Whether the task is recording (status 4 or 5)."""
        return self.recording_status in RUNNING_STATUSES


class AcquireResponse(ResponseModel):
    """Answer of acquire."""

    cname: str | None = None
    uid: str | None = None
    resource_id: str = Field(min_length=1)


class StartResponse(ResponseModel):
    """Answer of start (also of a 201 "already started", whose sid may be missing)."""

    cname: str | None = None
    uid: str | None = None
    resource_id: str | None = None
    sid: str | None = None


class UpdateResponse(ResponseModel):
    """Answer of update and updateLayout."""

    cname: str | None = None
    uid: str | None = None
    resource_id: str | None = None
    sid: str | None = None


class QueryResponse(ResponseModel):
    """Answer of query."""

    cname: str | None = None
    uid: str | None = None
    resource_id: str | None = None
    sid: str | None = None
    server_response: ServerResponse = Field(default_factory=ServerResponse)


class StopResponse(ResponseModel):
    """Answer of stop (200, and 206/435 when it carries a body)."""

    cname: str | None = None
    uid: str | None = None
    resource_id: str | None = None
    sid: str | None = None
    server_response: ServerResponse = Field(default_factory=ServerResponse)


class ChannelProfile(IntEnum):
    """`mode` of the channel user list."""

    COMMUNICATION = 1
    LIVE_BROADCASTING = 2


class ChannelUsers(ResponseModel):
    """`data` of the channel user list (channel-management API, snake_case on the wire)."""

    channel_exist: bool = Field(validation_alias=AliasChoices("channel_exist", "channelExist"))
    mode: int | None = None
    total: int | None = None
    users: list[int] = Field(default_factory=list)
    """Communication profile: everyone in the channel."""
    broadcasters: list[int] = Field(default_factory=list)
    """Live profile: hosts."""
    audience: list[int] = Field(default_factory=list)
    """Live profile: the first 10,000 audience uids."""
    audience_total: int | None = Field(
        default=None, validation_alias=AliasChoices("audience_total", "audienceTotal")
    )

    @property
    def profile(self) -> ChannelProfile | None:
        """The channel profile, if the channel exists and reports a known one."""
        try:
            return ChannelProfile(self.mode) if self.mode is not None else None
        except ValueError:
            return None

    @property
    def hosts(self) -> list[int]:
        """Users who count as present: everyone (communication) or the broadcasters (live)."""
        if self.profile is ChannelProfile.LIVE_BROADCASTING:
            return list(self.broadcasters)
        return list(self.users)


class UserListAnswer(ResponseModel):
    """The whole user-list body: `{"success": true, "data": {...}}`."""

    success: bool
    data: ChannelUsers


class ChannelListEntry(ResponseModel):
    """One channel of the channel list."""

    channel_name: str = Field(validation_alias=AliasChoices("channel_name", "channelName"))
    user_count: int = Field(ge=0, validation_alias=AliasChoices("user_count", "userCount"))
    """Everyone in the channel, a recorder bot included (it is a channel member)."""


class ChannelListPage(ResponseModel):
    """`data` of one page of the channel list."""

    channels: list[ChannelListEntry] = Field(default_factory=list)
    total_size: int = Field(
        default=0, ge=0, validation_alias=AliasChoices("total_size", "totalSize")
    )
    """Channels with users across all pages (when the page was read)."""


class ChannelListAnswer(ResponseModel):
    """The whole channel-list body: `{"success": true, "data": {...}}`."""

    success: bool
    data: ChannelListPage


class NcsHost(ResponseModel):
    """One NCS sender host."""

    primary_ip: IPv4Address | IPv6Address = Field(
        validation_alias=AliasChoices("primaryIP", "primaryIp", "primary_ip")
    )


class NcsService(ResponseModel):
    """`data.service` of the NCS IP list."""

    hosts: list[NcsHost] = Field(default_factory=list)


class NcsData(ResponseModel):
    """`data` of the NCS IP list."""

    service: NcsService


class NcsIpAnswer(ResponseModel):
    """The whole NCS IP-list body."""

    data: NcsData


class ErrorBody(ResponseModel):
    """What an error answer may carry (service `code`/`reason`, gateway `message`, ids)."""

    code: int | None = None
    reason: str | None = None
    message: str | None = None
    resource_id: str | None = None
    sid: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _lenient_code(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value

    @field_validator("reason", "message", "resource_id", "sid", mode="before")
    @classmethod
    def _lenient_text(cls, value: object) -> object:
        return value if isinstance(value, str) else None
