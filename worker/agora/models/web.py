"""`extensionServiceConfig` for web page recording and RTMP push, and their update objects."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import Field, model_validator

from worker.agora.models.common import FieldRuleError, WireModel
from worker.agora.models.recording import AudioProfile

WEB_RECORDER_SERVICE: Final = "web_recorder_service"
RTMP_PUBLISH_SERVICE: Final = "rtmp_publish_service"
_RTMP_URL = r"^rtmps?://\S+$"


class ErrorHandlePolicy(StrEnum):
    """What an extension service's failure does to the task."""

    ABORT = "error_abort"
    IGNORE = "error_ignore"


class WebRecorderParams(WireModel):
    """`serviceParam` of `web_recorder_service`."""

    url: str = Field(pattern=r"^https?://\S+$", max_length=2048)
    audio_profile: AudioProfile
    video_width: int = Field(ge=1, le=1920)
    video_height: int = Field(ge=1, le=1920)
    max_recording_hour: int = Field(ge=1, le=720)
    """Billing continues until this elapses or the task is stopped."""
    video_bitrate: int | None = Field(default=None, ge=50, le=8000)
    video_fps: int | None = Field(default=None, ge=5, le=60)
    mobile: bool | None = None
    max_video_duration: int | None = Field(default=None, ge=30, le=240)
    """Minutes per MP4 file."""
    onhold: bool | None = None
    """Start paused."""
    ready_timeout: int | None = Field(default=None, ge=0, le=60)
    """Seconds to wait for the page to load (0: no detection)."""

    @model_validator(mode="after")
    def _resolution(self) -> Self:
        if self.video_width * self.video_height > 1920 * 1080:
            raise FieldRuleError(
                "videoWidth", "videoWidth x videoHeight must not exceed 1920 x 1080"
            )
        return self


class RtmpOutput(WireModel):
    """One CDN destination."""

    rtmp_url: str = Field(pattern=_RTMP_URL, max_length=2048)


class RtmpPublishParams(WireModel):
    """`serviceParam` of `rtmp_publish_service`, also the body of `update.rtmpPublishConfig`."""

    outputs: list[RtmpOutput] = Field(min_length=1, max_length=1)


class WebRecorderService(WireModel):
    """Records a web page."""

    service_name: Literal["web_recorder_service"] = WEB_RECORDER_SERVICE
    error_handle_policy: ErrorHandlePolicy | None = None
    service_param: WebRecorderParams


class RtmpPublishService(WireModel):
    """Pushes the recorded page to a CDN over RTMP(S)."""

    service_name: Literal["rtmp_publish_service"] = RTMP_PUBLISH_SERVICE
    error_handle_policy: ErrorHandlePolicy | None = None
    service_param: RtmpPublishParams


ExtensionService = Annotated[
    WebRecorderService | RtmpPublishService, Field(discriminator="service_name")
]


class ExtensionServiceConfig(WireModel):
    """`extensionServiceConfig` (web mode, required there)."""

    error_handle_policy: Literal["error_abort"] | None = None
    """Only `error_abort` is accepted at this level."""
    extension_services: list[ExtensionService] = Field(min_length=1, max_length=2)

    @model_validator(mode="after")
    def _services(self) -> Self:
        names = [service.service_name for service in self.extension_services]
        if len(set(names)) != len(names):
            raise FieldRuleError("extensionServices", "must not repeat a service")
        if WEB_RECORDER_SERVICE not in names:
            raise FieldRuleError("extensionServices", f"must include {WEB_RECORDER_SERVICE}")
        return self


class WebRecordingUpdate(WireModel):
    """`update.webRecordingConfig`: pause or resume a web recording."""

    onhold: bool
