"""The recording policy model: whether and how one channel is recorded (design §6).

Pure data and validation: no I/O. Field names are the TOML keys of `docs/policies.md`;
the properties named `agora_*` (and `subscriptions`, `subscribe_uid_group`,
`max_recording_hour`) give the values Agora's start request expects, so the client maps a
policy without re-deriving rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from worker.policies.enums import (
    ChannelType,
    FileTypes,
    Mode,
    StreamMode,
    Streams,
    VideoStreamType,
)
from worker.policies.prefix import PrefixTemplate
from worker.policies.transcoding import MAX_PIXELS, Transcoding
from worker.policies.uids import ALL_STREAMS, parse_uid, uid_group

_DEFAULT_EXPECTED_USERS: Final = 7
_MIN_IDLE_S: Final = 300
_RTC: Final = frozenset({Mode.MIX, Mode.INDIVIDUAL})
_SUBSCRIPTION_FIELDS: Final = (
    "subscribe_audio_uids",
    "unsubscribe_audio_uids",
    "subscribe_video_uids",
    "unsubscribe_video_uids",
)

#: Fields that mean something only in some modes (all others apply to every mode).
APPLIES_TO: Final[Mapping[str, frozenset[Mode]]] = {
    "channel_type": _RTC,
    "max_idle_s": _RTC,
    "video_stream_type": _RTC,
    **dict.fromkeys(_SUBSCRIPTION_FIELDS, _RTC),
    "transcoding": frozenset({Mode.MIX}),
    "audio_profile": frozenset({Mode.MIX, Mode.WEB}),
    "expected_users": frozenset({Mode.INDIVIDUAL}),
    "stream_mode": frozenset({Mode.INDIVIDUAL}),
    "snapshot_interval_s": frozenset({Mode.INDIVIDUAL}),
    **dict.fromkeys(
        (
            "web_url",
            "web_width",
            "web_height",
            "web_fps",
            "web_bitrate_kbps",
            "web_mobile",
            "web_max_video_duration_min",
            "web_ready_timeout_s",
        ),
        frozenset({Mode.WEB}),
    ),
}


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Agora subscription lists (None: not sent). Filled so `streams` is honoured."""

    subscribe_audio_uids: tuple[str, ...] | None = None
    unsubscribe_audio_uids: tuple[str, ...] | None = None
    subscribe_video_uids: tuple[str, ...] | None = None
    unsubscribe_video_uids: tuple[str, ...] | None = None


class Policy(BaseModel):
    """How one channel is recorded. `rule_index` (1-based) is None for the default policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str = Field(default="*", min_length=1, description="fnmatch glob on the channel.")
    rule_index: int | None = Field(default=None, description="Position in the policy file.")
    record: bool = Field(default=True, description="Whether matching channels are recorded.")
    mode: Mode = Field(default=Mode.MIX, description="mix | individual | web.")
    streams: Streams = Field(default=Streams.BOTH, description="audio | video | both.")
    min_users: int = Field(default=1, ge=1, description="Users needed to record.")
    count_audience: bool = Field(
        default=False, description="Whether live-profile audience counts toward min_users."
    )
    grace_s: float = Field(
        default=30, ge=0, allow_inf_nan=False, description="Wait after emptying before stop."
    )
    max_idle_s: int | None = Field(
        default=None,
        ge=5,
        le=2_592_000,
        description="Agora maxIdleTime, a backstop > grace_s; default max(300, grace_s + 60).",
    )
    max_duration_s: int = Field(
        default=86_400, ge=60, le=720 * 3600, description="Longest one recording session."
    )
    file_types: FileTypes = Field(default=FileTypes.HLS, description="hls | hls+mp4 | none.")
    storage_prefix: str = Field(
        default="recordings/{channel}", description="fileNamePrefix template."
    )
    channel_type: ChannelType = Field(
        default=ChannelType.AUTO, description="communication | live | auto."
    )
    video_stream_type: VideoStreamType = Field(default=VideoStreamType.HIGH)
    subscribe_audio_uids: tuple[str, ...] | None = None
    unsubscribe_audio_uids: tuple[str, ...] | None = None
    subscribe_video_uids: tuple[str, ...] | None = None
    unsubscribe_video_uids: tuple[str, ...] | None = None
    audio_profile: int = Field(default=0, ge=0, le=2, description="Agora audioProfile 0-2.")
    transcoding: Transcoding | None = None
    expected_users: int | None = Field(default=None, ge=1, le=49)
    stream_mode: StreamMode | None = None
    snapshot_interval_s: int | None = Field(default=None, ge=5, le=3600)
    web_url: str | None = Field(default=None, description="Page to record; {channel} allowed.")
    web_width: int = Field(default=1280, ge=16, le=1920)
    web_height: int = Field(default=720, ge=16, le=1920)
    web_fps: int = Field(default=15, ge=5, le=60)
    web_bitrate_kbps: int | None = Field(default=None, ge=50, le=8000)
    web_mobile: bool = False
    web_max_video_duration_min: int = Field(default=120, ge=30, le=240)
    web_ready_timeout_s: int = Field(default=0, ge=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _fill_mode_defaults(cls, data: Any) -> Any:
        """Mix gets a default composition; RTC modes a max_idle_s above the grace."""
        if not isinstance(data, dict):
            return data
        mode = data.get("mode", Mode.MIX)
        mode = mode if isinstance(mode, str) else None  # a wrong type is reported later
        grace = data.get("grace_s", cls.model_fields["grace_s"].default)
        filled = dict(data)
        if mode in _RTC and filled.get("max_idle_s") is None and _is_real(grace):
            filled["max_idle_s"] = max(_MIN_IDLE_S, math.ceil(grace) + 60)
        if mode == Mode.MIX and filled.get("transcoding") is None:
            filled["transcoding"] = {}
        return filled

    @field_validator(*_SUBSCRIPTION_FIELDS, mode="before")
    @classmethod
    def _check_uid_list(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f'must be a non-empty list of uids or ["{ALL_STREAMS}"]')
        if len(value) > 32:
            raise ValueError(f"may hold at most 32 uids, got {len(value)}")
        if ALL_STREAMS in value:
            if len(value) != 1:
                raise ValueError(f'"{ALL_STREAMS}" must be the only entry')
            return (ALL_STREAMS,)
        return tuple(parse_uid(item) for item in value)

    @field_validator("storage_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        PrefixTemplate.parse(value)
        return value

    @field_validator("match")
    @classmethod
    def _check_match(cls, value: str) -> str:
        if value.strip() != value:
            raise ValueError(f"must not start or end with spaces, got {value!r}")
        return value

    @field_validator("web_url")
    @classmethod
    def _check_web_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"https?://[^\s/]+", value) or re.search(r"\s", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        if "{" in value.replace("{channel}", "") or "}" in value.replace("{channel}", ""):
            raise ValueError("supports only the {channel} placeholder")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Policy:
        for name in sorted(self.model_fields_set & APPLIES_TO.keys()):
            if self.mode not in APPLIES_TO[name] and getattr(self, name) is not None:
                modes = " and ".join(sorted(APPLIES_TO[name]))
                raise ValueError(f'{name} does not apply to mode "{self.mode}" (only {modes})')
        if self.max_idle_s is not None and self.max_idle_s <= self.grace_s:
            raise ValueError(
                f"max_idle_s must be greater than grace_s ({self.max_idle_s} <= {self.grace_s:g})"
            )
        self._check_files()
        self._check_individual()
        if self.mode is Mode.WEB:
            if self.web_url is None:
                raise ValueError('web_url is required in mode "web"')
            if self.web_width * self.web_height > MAX_PIXELS:
                raise ValueError(
                    "web_width x web_height must be at most 1920x1080 pixels, "
                    f"got {self.web_width}x{self.web_height}"
                )
        return self

    def _check_files(self) -> None:
        if self.file_types is FileTypes.HLS_MP4 and self.mode is Mode.INDIVIDUAL:
            raise ValueError('file_types "hls+mp4" needs mode "mix" or "web"')
        if self.file_types is FileTypes.NONE and self.snapshot_interval_s is None:
            raise ValueError(
                'file_types "none" (snapshots only) needs mode "individual" and snapshot_interval_s'
            )

    def _check_individual(self) -> None:
        if self.snapshot_interval_s is not None and self.streams is Streams.AUDIO:
            raise ValueError('snapshot_interval_s needs streams "video" or "both"')
        if self.stream_mode is StreamMode.ORIGINAL and self.streams is not Streams.AUDIO:
            raise ValueError('stream_mode "original" needs streams "audio"')
        for media in ("audio", "video"):
            given = [
                name
                for name in (f"subscribe_{media}_uids", f"unsubscribe_{media}_uids")
                if getattr(self, name) is not None
            ]
            if len(given) == 2:
                raise ValueError(f"{given[0]} and {given[1]} exclude each other")
            if given and self.streams.value not in (media, "both"):
                raise ValueError(f'{given[0]} needs streams "{media}" or "both"')

    # --- derived values --------------------------------------------------------------------

    @property
    def label(self) -> str:
        """Where the policy comes from, for logs: `rule 2 (match "class-*")` or `default`."""
        if self.rule_index is None:
            return "default policy"
        return f'rule {self.rule_index} (match "{self.match}")'

    def matches(self, channel: str) -> bool:
        """Whether the rule's glob matches the channel name (case-sensitive)."""
        return fnmatchcase(channel, self.match)

    def agora_channel_type(self, observed_live: bool | None = None) -> int:
        """Agora `channelType`: 0 communication, 1 live (`auto` uses the observed profile)."""
        if self.channel_type is ChannelType.AUTO:
            return 1 if observed_live else 0
        return 1 if self.channel_type is ChannelType.LIVE else 0

    @property
    def subscriptions(self) -> Subscriptions:
        """Subscription lists to send. Agora subscribes nothing of a media type that has no
        list once the other type has one, so with `streams = "both"` the missing side is
        filled with all streams."""
        lists = {name: getattr(self, name) for name in _SUBSCRIPTION_FIELDS}
        if self.streams is Streams.BOTH:
            has_audio = lists["subscribe_audio_uids"] or lists["unsubscribe_audio_uids"]
            has_video = lists["subscribe_video_uids"] or lists["unsubscribe_video_uids"]
            if has_audio and not has_video:
                lists["subscribe_video_uids"] = (ALL_STREAMS,)
            if has_video and not has_audio:
                lists["subscribe_audio_uids"] = (ALL_STREAMS,)
        return Subscriptions(**lists)

    @property
    def subscribe_uid_group(self) -> int:
        """Agora `subscribeUidGroup` (individual mode), from `expected_users` or the lists."""
        users = self.expected_users
        if users is None:
            named = {
                uid
                for name in ("subscribe_audio_uids", "subscribe_video_uids")
                for uid in getattr(self, name) or ()
                if uid != ALL_STREAMS
            }
            users = len(named) or _DEFAULT_EXPECTED_USERS
        return uid_group(users)

    @property
    def max_recording_hour(self) -> int:
        """Agora `maxRecordingHour` (web mode): `max_duration_s` rounded up to hours."""
        return min(720, max(1, math.ceil(self.max_duration_s / 3600)))

    def web_page_url(self, channel: str) -> str:
        """The page to record, `{channel}` replaced by the URL-encoded channel name."""
        if self.web_url is None:
            raise ValueError(f"{self.label} has no web_url (mode {self.mode})")
        return self.web_url.replace("{channel}", quote(channel, safe=""))

    def storage_prefix_for(self, channel: str, *, at: datetime) -> list[str]:
        """Agora `fileNamePrefix` for a recording of `channel` starting at `at` (aware)."""
        return PrefixTemplate.parse(self.storage_prefix).render(channel, at=at)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
