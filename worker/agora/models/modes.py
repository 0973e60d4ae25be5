"""Which request fields each recording mode allows or needs (agora-facts §2.4 table)."""

from __future__ import annotations

from worker.agora.models.common import FieldRuleError, RecordingMode
from worker.agora.models.recording import StreamTypes
from worker.agora.models.requests import (
    AcquireClientRequest,
    Scene,
    StartClientRequest,
    UpdateClientRequest,
)

_SCENES: dict[RecordingMode, frozenset[Scene]] = {
    RecordingMode.INDIVIDUAL: frozenset({Scene.REAL_TIME, Scene.POSTPONE_TRANSCODING}),
    RecordingMode.MIX: frozenset({Scene.REAL_TIME}),
    RecordingMode.WEB: frozenset({Scene.WEB_PAGE}),
}


def default_scene(mode: RecordingMode) -> Scene:
    """The acquire `scene` a mode needs when the caller leaves it out."""
    return Scene.WEB_PAGE if mode is RecordingMode.WEB else Scene.REAL_TIME


def check_acquire(mode: RecordingMode, request: AcquireClientRequest) -> None:
    """Raise FieldRuleError (full wire path) if `request` does not fit `mode`."""
    if request.scene is not None and request.scene not in _SCENES[mode]:
        allowed = sorted(int(scene) for scene in _SCENES[mode])
        raise FieldRuleError("clientRequest.scene", f"must be one of {allowed} in {mode} mode")
    if request.start_parameter is not None:
        check_start(mode, request.start_parameter, path="clientRequest.startParameter")


def check_start(
    mode: RecordingMode, request: StartClientRequest, *, path: str = "clientRequest"
) -> None:
    """Raise FieldRuleError (full wire path) if a start request does not fit `mode`."""

    def fail(field: str, problem: str) -> FieldRuleError:
        return FieldRuleError(f"{path}.{field}", problem)

    if mode is RecordingMode.WEB:
        for field, value in (
            ("token", request.token),
            ("recordingConfig", request.recording_config),
            ("snapshotConfig", request.snapshot_config),
        ):
            if value is not None:
                raise fail(field, "is not allowed in web mode")
        if request.extension_service_config is None:
            raise fail("extensionServiceConfig", "is required in web mode")
        if request.recording_file_config is None:
            raise fail("recordingFileConfig", "is required in web mode")
        return

    if request.extension_service_config is not None:
        raise fail("extensionServiceConfig", f"is only for web mode, not {mode}")
    config = request.recording_config
    if config is None:
        raise fail("recordingConfig", f"is required in {mode} mode")
    if mode is RecordingMode.MIX:
        if request.snapshot_config is not None:
            raise fail("snapshotConfig", "is only for individual mode")
        if request.recording_file_config is None:
            raise fail("recordingFileConfig", "is required in mix mode")
        if config.subscribe_uid_group is not None:
            raise fail("recordingConfig.subscribeUidGroup", "is only for individual mode")
        if config.stream_mode is not None:
            raise fail("recordingConfig.streamMode", "is only for individual mode")
        return

    # individual
    if config.subscribe_uid_group is None:
        raise fail("recordingConfig.subscribeUidGroup", "is required in individual mode")
    if config.audio_profile is not None:
        raise fail("recordingConfig.audioProfile", "is only for mix mode")
    if config.transcoding_config is not None:
        raise fail("recordingConfig.transcodingConfig", "is only for mix mode")
    if request.recording_file_config is None and request.snapshot_config is None:
        raise fail("recordingFileConfig", "is required unless the task only takes snapshots")
    if request.snapshot_config is not None:
        if config.effective_stream_types is StreamTypes.AUDIO:
            raise fail("snapshotConfig", "needs streamTypes 1 or 2 (video)")
        if config.subscribe_audio_uids is not None and config.subscribe_video_uids is None:
            raise fail(
                "recordingConfig.subscribeVideoUids",
                "is required with snapshots when subscribeAudioUids is set",
            )


def check_update(mode: RecordingMode, request: UpdateClientRequest) -> None:
    """Raise FieldRuleError (full wire path) if an update request does not fit `mode`."""
    if mode is RecordingMode.WEB:
        if request.stream_subscribe is not None:
            raise FieldRuleError("clientRequest.streamSubscribe", "is not allowed in web mode")
        return
    for field, value in (
        ("webRecordingConfig", request.web_recording_config),
        ("rtmpPublishConfig", request.rtmp_publish_config),
    ):
        if value is not None:
            raise FieldRuleError(f"clientRequest.{field}", f"is only for web mode, not {mode}")
