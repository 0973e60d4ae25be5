"""Policy enumerations: the TOML spellings and the Agora numbers they stand for."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Agora recording mode."""

    MIX = "mix"
    INDIVIDUAL = "individual"
    WEB = "web"


class Streams(StrEnum):
    """Which media to record (Agora `streamTypes`)."""

    AUDIO = "audio"
    VIDEO = "video"
    BOTH = "both"

    @property
    def agora_stream_types(self) -> int:
        """Agora `streamTypes`: 0 audio, 1 video, 2 both."""
        return {Streams.AUDIO: 0, Streams.VIDEO: 1, Streams.BOTH: 2}[self]


class FileTypes(StrEnum):
    """Recorded file formats (Agora `recordingFileConfig.avFileType`)."""

    HLS = "hls"
    HLS_MP4 = "hls+mp4"
    NONE = "none"
    """No recording files: snapshots only (individual mode with `snapshot_interval_s`)."""

    @property
    def agora_av_file_types(self) -> list[str]:
        """Agora `avFileType`; empty means: send no `recordingFileConfig`."""
        return {FileTypes.HLS: ["hls"], FileTypes.HLS_MP4: ["hls", "mp4"], FileTypes.NONE: []}[self]


class ChannelType(StrEnum):
    """The channel profile the app's SDK uses (Agora `channelType`)."""

    COMMUNICATION = "communication"
    LIVE = "live"
    AUTO = "auto"
    """Take the profile seen in the channel's events; communication when unknown."""


class Layout(StrEnum):
    """Mix layout (Agora `mixedVideoLayout`)."""

    FLOATING = "floating"
    BEST_FIT = "best_fit"
    VERTICAL = "vertical"

    @property
    def agora_mixed_video_layout(self) -> int:
        """Agora `mixedVideoLayout`: 0 floating, 1 best fit, 2 vertical."""
        return {Layout.FLOATING: 0, Layout.BEST_FIT: 1, Layout.VERTICAL: 2}[self]


class StreamMode(StrEnum):
    """Individual-mode output (Agora `streamMode`)."""

    DEFAULT = "default"
    STANDARD = "standard"
    ORIGINAL = "original"


class VideoStreamType(StrEnum):
    """Which of a dual-stream sender's streams to record (Agora `videoStreamType`)."""

    HIGH = "high"
    LOW = "low"

    @property
    def agora_video_stream_type(self) -> int:
        """Agora `videoStreamType`: 0 high, 1 low."""
        return 0 if self is VideoStreamType.HIGH else 1
