"""`recordingConfig` (subscriptions, decryption, idle exit), file and snapshot settings."""

from __future__ import annotations

import base64
import binascii
from enum import IntEnum, StrEnum
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from worker.agora.models.common import ALL_STREAMS, FieldRuleError, StreamUid, WireModel, WireSecret
from worker.agora.models.layout import TranscodingConfig

MAX_SUBSCRIBE_UIDS = 32


class ChannelType(IntEnum):
    """The channel profile the recorder joins with (must match the app's)."""

    COMMUNICATION = 0
    LIVE_BROADCASTING = 1


class StreamTypes(IntEnum):
    """Which media to record."""

    AUDIO = 0
    VIDEO = 1
    AUDIO_AND_VIDEO = 2


class VideoStreamType(IntEnum):
    """Which video stream of dual-stream senders to subscribe to."""

    HIGH = 0
    LOW = 1


class DecryptionMode(IntEnum):
    """Media decryption; must match the SDK's encryption."""

    NONE = 0
    AES_128_XTS = 1
    AES_128_ECB = 2
    AES_256_XTS = 3
    SM4_128_ECB = 4
    AES_128_GCM = 5
    AES_256_GCM = 6
    AES_128_GCM2 = 7
    AES_256_GCM2 = 8


class StreamMode(StrEnum):
    """Individual mode output: `original` keeps the raw audio (audio-only tasks)."""

    DEFAULT = "default"
    STANDARD = "standard"
    ORIGINAL = "original"


class AudioProfile(IntEnum):
    """Audio sample rate, channels and bitrate of mixed (or web) recordings."""

    MONO_48KHZ_48KBPS = 0
    MONO_48KHZ_128KBPS = 1
    STEREO_48KHZ_192KBPS = 2


class SubscribeUidGroup(IntEnum):
    """Expected number of subscribed uids in individual mode (audio and video together)."""

    UP_TO_2 = 0
    UP_TO_7 = 1
    UP_TO_12 = 2
    UP_TO_17 = 3
    UP_TO_32 = 4
    UP_TO_49 = 5


class AvFileType(StrEnum):
    """Recorded file formats."""

    HLS = "hls"
    MP4 = "mp4"


class RecordingConfig(WireModel):
    """What the recorder subscribes to and how (`recordingConfig`, individual and mix)."""

    channel_type: ChannelType = ChannelType.COMMUNICATION
    decryption_mode: DecryptionMode | None = None
    secret: WireSecret | None = None
    salt: WireSecret | None = None
    """Base64 of 32 bytes; required by decryption modes 7 and 8."""
    max_idle_time: int | None = Field(default=None, ge=5, le=2_592_000)
    """Seconds of an idle channel before the recorder leaves by itself."""
    stream_types: StreamTypes | None = None
    video_stream_type: VideoStreamType | None = None
    subscribe_audio_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    unsubscribe_audio_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    subscribe_video_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    unsubscribe_video_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    subscribe_uid_group: SubscribeUidGroup | None = None
    """Required in individual mode."""
    stream_mode: StreamMode | None = None
    """Individual mode only."""
    audio_profile: AudioProfile | None = None
    """Mix mode only."""
    transcoding_config: TranscodingConfig | None = None
    """Mix mode only."""

    @property
    def effective_stream_types(self) -> StreamTypes:
        """`stream_types`, or Agora's default (audio and video)."""
        return self.stream_types if self.stream_types is not None else StreamTypes.AUDIO_AND_VIDEO

    @model_validator(mode="after")
    def _subscription_rules(self) -> Self:
        check_subscription(
            self.effective_stream_types,
            audio=(self.subscribe_audio_uids, self.unsubscribe_audio_uids),
            video=(self.subscribe_video_uids, self.unsubscribe_video_uids),
        )
        if self.stream_mode is StreamMode.ORIGINAL and (
            self.effective_stream_types is not StreamTypes.AUDIO
        ):
            raise FieldRuleError("streamMode", "'original' needs streamTypes 0 (audio only)")
        return self

    @model_validator(mode="after")
    def _decryption_rules(self) -> Self:
        mode = self.decryption_mode or DecryptionMode.NONE
        if mode is not DecryptionMode.NONE and self.secret is None:
            raise FieldRuleError("secret", "is required when decryptionMode is not 0")
        if mode in (DecryptionMode.AES_128_GCM2, DecryptionMode.AES_256_GCM2):
            if self.salt is None:
                raise FieldRuleError("salt", "is required with decryptionMode 7 and 8")
            try:
                raw = base64.b64decode(self.salt.get_secret_value(), validate=True)
            except binascii.Error:
                raise FieldRuleError("salt", "must be Base64") from None
            if len(raw) != 32:
                raise FieldRuleError("salt", "must encode exactly 32 bytes")
        return self


def check_subscription(
    stream_types: StreamTypes,
    *,
    audio: tuple[list[str] | None, list[str] | None],
    video: tuple[list[str] | None, list[str] | None],
) -> None:
    """Subscribe/unsubscribe lists are exclusive per media and must fit `stream_types`."""
    for media, (sub, unsub), allowed in (
        ("Audio", audio, (StreamTypes.AUDIO, StreamTypes.AUDIO_AND_VIDEO)),
        ("Video", video, (StreamTypes.VIDEO, StreamTypes.AUDIO_AND_VIDEO)),
    ):
        if sub is not None and unsub is not None:
            raise FieldRuleError(
                f"unsubscribe{media}Uids", f"excludes subscribe{media}Uids (set only one)"
            )
        if unsub is not None and ALL_STREAMS in unsub:
            raise FieldRuleError(f"unsubscribe{media}Uids", f"must not hold {ALL_STREAMS}")
        given = sub if sub is not None else unsub
        if given is not None and stream_types not in allowed:
            name = f"subscribe{media}Uids" if sub is not None else f"unsubscribe{media}Uids"
            raise FieldRuleError(name, f"does not fit streamTypes {int(stream_types)}")


class RecordingFileConfig(WireModel):
    """Recorded file formats (`recordingFileConfig`): `["hls"]` or `["hls", "mp4"]`."""

    av_file_type: list[AvFileType] = Field(default_factory=lambda: [AvFileType.HLS])

    @field_validator("av_file_type")
    @classmethod
    def _hls_first(cls, types: list[AvFileType]) -> list[AvFileType]:
        if len(set(types)) != len(types):
            raise ValueError("must not repeat a type")
        if AvFileType.HLS not in types:
            raise ValueError('must include "hls" ("mp4" alone is refused by Agora)')
        return sorted(types, key=lambda t: t is AvFileType.MP4)


def _jpg() -> list[Literal["jpg"]]:
    return ["jpg"]


class SnapshotConfig(WireModel):
    """Screenshots of video streams (`snapshotConfig`, individual mode)."""

    capture_interval: int | None = Field(default=None, ge=5, le=3600)
    """Seconds between captures (default 10)."""
    file_type: list[Literal["jpg"]] = Field(default_factory=_jpg, min_length=1)

    @field_validator("file_type")
    @classmethod
    def _once(cls, types: list[Literal["jpg"]]) -> list[Literal["jpg"]]:
        if len(types) != 1:
            raise ValueError('must be ["jpg"]')
        return types
