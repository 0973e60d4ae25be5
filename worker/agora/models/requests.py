"""Request bodies: `clientRequest` of acquire, start, update, updateLayout, stop."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Self

from pydantic import Field, model_validator

from worker.agora.models.common import FieldRuleError, StreamUid, Uid, WireModel, WireSecret
from worker.agora.models.layout import LayoutFields
from worker.agora.models.recording import (
    MAX_SUBSCRIBE_UIDS,
    RecordingConfig,
    RecordingFileConfig,
    SnapshotConfig,
)
from worker.agora.models.storage import StorageConfig
from worker.agora.models.web import ExtensionServiceConfig, RtmpPublishParams, WebRecordingUpdate


class Scene(IntEnum):
    """`acquire.clientRequest.scene`."""

    REAL_TIME = 0
    WEB_PAGE = 1
    POSTPONE_TRANSCODING = 2


class AcquireRegion(StrEnum):
    """Region the task is restricted to."""

    CN = "CN"
    AP = "AP"
    EU = "EU"
    NA = "NA"


class StartClientRequest(WireModel):
    """`start.clientRequest` (also `acquire.clientRequest.startParameter`)."""

    token: WireSecret | None = None
    """RTC token of the recorder uid; individual and mix only."""
    storage_config: StorageConfig
    recording_config: RecordingConfig | None = None
    recording_file_config: RecordingFileConfig | None = None
    snapshot_config: SnapshotConfig | None = None
    extension_service_config: ExtensionServiceConfig | None = None


class AcquireClientRequest(WireModel):
    """`acquire.clientRequest`; the client fills `scene` from the mode when it is None."""

    scene: Scene | None = None
    resource_expired_hour: int | None = Field(default=None, ge=1, le=720)
    """Hours after start during which the task can be queried, updated and stopped."""
    exclude_resource_ids: list[str] | None = Field(default=None, min_length=1)
    region: AcquireRegion | None = None
    start_parameter: StartClientRequest | None = None


class AudioUidList(WireModel):
    """`streamSubscribe.audioUidList`: exactly one of the two lists."""

    subscribe_audio_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    unsubscribe_audio_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.subscribe_audio_uids is None) == (self.unsubscribe_audio_uids is None):
            raise FieldRuleError(
                "subscribeAudioUids", "set exactly one of subscribeAudioUids, unsubscribeAudioUids"
            )
        return self


class VideoUidList(WireModel):
    """`streamSubscribe.videoUidList`: exactly one of the two lists."""

    subscribe_video_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )
    unsubscribe_video_uids: list[StreamUid] | None = Field(
        default=None, min_length=1, max_length=MAX_SUBSCRIBE_UIDS
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.subscribe_video_uids is None) == (self.unsubscribe_video_uids is None):
            raise FieldRuleError(
                "subscribeVideoUids", "set exactly one of subscribeVideoUids, unsubscribeVideoUids"
            )
        return self


class StreamSubscribe(WireModel):
    """`update.streamSubscribe` (individual and mix)."""

    audio_uid_list: AudioUidList | None = None
    video_uid_list: VideoUidList | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.audio_uid_list is None and self.video_uid_list is None:
            raise FieldRuleError("audioUidList", "set audioUidList, videoUidList or both")
        return self


class UpdateClientRequest(WireModel):
    """`update.clientRequest`: subscriptions, web pause/resume, RTMP outputs, fresh STS keys."""

    stream_subscribe: StreamSubscribe | None = None
    web_recording_config: WebRecordingUpdate | None = None
    rtmp_publish_config: RtmpPublishParams | None = None
    storage_config: StorageConfig | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if all(
            value is None
            for value in (
                self.stream_subscribe,
                self.web_recording_config,
                self.rtmp_publish_config,
                self.storage_config,
            )
        ):
            raise FieldRuleError("clientRequest", "must change at least one setting")
        return self


class UpdateLayoutClientRequest(LayoutFields):
    """`updateLayout.clientRequest` (mix mode); each call replaces the whole layout."""


class StopClientRequest(WireModel):
    """`stop.clientRequest`."""

    async_stop: bool = Field(default=False, alias="async_stop")
    """True: answer at once; False: answer after the files are uploaded (up to ~20 s)."""


class Envelope(WireModel):
    """The outer body of acquire/start/update/updateLayout/stop."""

    cname: str = Field(min_length=1)
    uid: Uid


class AcquireBody(Envelope):
    """Body of acquire."""

    client_request: AcquireClientRequest


class StartBody(Envelope):
    """Body of start."""

    client_request: StartClientRequest


class UpdateBody(Envelope):
    """Body of update."""

    client_request: UpdateClientRequest


class UpdateLayoutBody(Envelope):
    """Body of updateLayout."""

    client_request: UpdateLayoutClientRequest


class StopBody(Envelope):
    """Body of stop."""

    client_request: StopClientRequest
