"""Valid request objects for each recording mode, for tests to start from and vary."""

from __future__ import annotations

from pydantic import SecretStr

from worker.agora.models import (
    AudioProfile,
    AvFileType,
    ChannelType,
    ExtensionServiceConfig,
    LayoutRegion,
    MixedVideoLayout,
    RecordingConfig,
    RecordingFileConfig,
    RenderMode,
    RtmpOutput,
    RtmpPublishParams,
    RtmpPublishService,
    SnapshotConfig,
    StartClientRequest,
    StorageConfig,
    StorageExtensionParams,
    StorageVendor,
    StreamTypes,
    SubscribeUidGroup,
    TranscodingConfig,
    WebRecorderParams,
    WebRecorderService,
)

ACCESS_KEY = "AKIA-test-access-key-4711"
SECRET_KEY = "storage-secret-key-0815-do-not-log"
STS_TOKEN = "sts-session-token-abcdef"


def storage(**changes: object) -> StorageConfig:
    """Amazon S3 in us-east-1 with a two-folder prefix."""
    fields: dict[str, object] = {
        "vendor": StorageVendor.AMAZON_S3,
        "region": 0,
        "bucket": "recordings",
        "access_key": SecretStr(ACCESS_KEY),
        "secret_key": SecretStr(SECRET_KEY),
        "file_name_prefix": ["autorec", "room1"],
    }
    fields.update(changes)
    return StorageConfig.model_validate(fields)


def s3_compatible_storage() -> StorageConfig:
    """Vendor 11 with its required endpoint."""
    return storage(
        vendor=StorageVendor.S3_COMPATIBLE,
        region=0,
        extension_params=StorageExtensionParams(endpoint="https://minio.example.com"),
    )


def individual_start(*, token: str | None = None, **changes: object) -> StartClientRequest:
    """Individual mode, audio and video of everyone, HLS."""
    fields: dict[str, object] = {
        "token": SecretStr(token) if token is not None else None,
        "storage_config": storage(),
        "recording_config": RecordingConfig(
            channel_type=ChannelType.COMMUNICATION,
            max_idle_time=30,
            stream_types=StreamTypes.AUDIO_AND_VIDEO,
            subscribe_audio_uids=["#allstream#"],
            subscribe_video_uids=["#allstream#"],
            subscribe_uid_group=SubscribeUidGroup.UP_TO_7,
        ),
        "recording_file_config": RecordingFileConfig(av_file_type=[AvFileType.HLS]),
    }
    fields.update(changes)
    return StartClientRequest.model_validate(fields)


def mix_start(*, token: str | None = None, **changes: object) -> StartClientRequest:
    """Mix mode with a custom two-region layout, HLS and MP4."""
    fields: dict[str, object] = {
        "token": SecretStr(token) if token is not None else None,
        "storage_config": storage(),
        "recording_config": RecordingConfig(
            channel_type=ChannelType.LIVE_BROADCASTING,
            max_idle_time=60,
            audio_profile=AudioProfile.STEREO_48KHZ_192KBPS,
            transcoding_config=TranscodingConfig(
                width=1280,
                height=720,
                fps=30,
                bitrate=2260,
                mixed_video_layout=MixedVideoLayout.CUSTOM,
                background_color="#102030",
                layout_config=[
                    LayoutRegion(x_axis=0, y_axis=0, width=0.5, height=1),
                    LayoutRegion(
                        uid="42",
                        x_axis=0.5,
                        y_axis=0,
                        width=0.5,
                        height=1,
                        alpha=0.9,
                        render_mode=RenderMode.FIT,
                    ),
                ],
            ),
        ),
        "recording_file_config": RecordingFileConfig(av_file_type=[AvFileType.HLS, AvFileType.MP4]),
    }
    fields.update(changes)
    return StartClientRequest.model_validate(fields)


def snapshot_only_start() -> StartClientRequest:
    """Individual mode taking only screenshots (no recordingFileConfig)."""
    return StartClientRequest(
        storage_config=storage(),
        recording_config=RecordingConfig(
            stream_types=StreamTypes.VIDEO, subscribe_uid_group=SubscribeUidGroup.UP_TO_2
        ),
        snapshot_config=SnapshotConfig(capture_interval=5),
    )


def web_start(*, rtmp_url: str | None = None) -> StartClientRequest:
    """Web page recording (and optionally an RTMP push) into HLS + MP4."""
    services: list[WebRecorderService | RtmpPublishService] = [
        WebRecorderService(
            service_param=WebRecorderParams(
                url="https://example.com/room/1",
                audio_profile=AudioProfile.MONO_48KHZ_48KBPS,
                video_width=1280,
                video_height=720,
                max_recording_hour=2,
            )
        )
    ]
    if rtmp_url is not None:
        services.append(
            RtmpPublishService(
                service_param=RtmpPublishParams(outputs=[RtmpOutput(rtmp_url=rtmp_url)])
            )
        )
    return StartClientRequest(
        storage_config=storage(),
        recording_file_config=RecordingFileConfig(av_file_type=[AvFileType.HLS, AvFileType.MP4]),
        extension_service_config=ExtensionServiceConfig(extension_services=services),
    )
