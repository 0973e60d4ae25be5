"""From a recording policy to Agora's acquire and start requests (pure, no I/O).

`StorageTarget.from_settings` reads the `STORAGE_*` settings once at worker start (a worker
without storage refuses to start, naming STORAGE_VENDOR); `start_request` builds the
`clientRequest` of start for one channel, recorder uid and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from pydantic import SecretStr, ValidationError

from worker.agora import RtcRole, build_rtc_token
from worker.agora.models.common import RecordingMode
from worker.agora.models.layout import MixedVideoLayout, TranscodingConfig
from worker.agora.models.recording import (
    AudioProfile,
    AvFileType,
    ChannelType,
    RecordingConfig,
    RecordingFileConfig,
    SnapshotConfig,
    StreamMode,
    StreamTypes,
    SubscribeUidGroup,
    VideoStreamType,
)
from worker.agora.models.requests import AcquireClientRequest, StartClientRequest
from worker.agora.models.storage import StorageConfig, StorageExtensionParams, StorageVendor
from worker.agora.models.web import (
    ExtensionServiceConfig,
    WebRecorderParams,
    WebRecorderService,
)
from worker.policies import Mode, Policy
from worker.settings import ConfigError

if TYPE_CHECKING:
    from worker.settings import Settings

#: Extra validity of a recorder token beyond the policy's longest session (Agora cannot
#: renew a recorder's token, agora-facts §6.4).
TOKEN_MARGIN_S: Final = 3600
#: Hours after start during which Agora answers query/stop for the task (Agora's maximum).
RESOURCE_EXPIRED_HOUR: Final = 72


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """Where recordings go (Agora `storageConfig` without the per-recording prefix)."""

    vendor: int
    region: int
    bucket: str
    access_key: SecretStr
    secret_key: SecretStr
    endpoint: str | None = None

    def __repr__(self) -> str:
        return f"StorageTarget(vendor={self.vendor}, region={self.region}, bucket={self.bucket!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageTarget:
        """The configured storage; ConfigError naming the first missing variable."""
        for name in ("storage_vendor", "storage_region", "storage_bucket"):
            if getattr(settings, name) in (None, ""):
                raise ConfigError(f"{name.upper()} is required but not set")
        for name in ("storage_access_key", "storage_secret_key"):
            value = getattr(settings, name)
            if value is None or not value.get_secret_value():
                raise ConfigError(f"{name.upper()} is required but not set")
        assert settings.storage_vendor is not None
        assert settings.storage_region is not None
        assert settings.storage_bucket is not None
        assert settings.storage_access_key is not None
        assert settings.storage_secret_key is not None
        target = cls(
            vendor=settings.storage_vendor,
            region=settings.storage_region,
            bucket=settings.storage_bucket,
            access_key=settings.storage_access_key,
            secret_key=settings.storage_secret_key,
            endpoint=settings.storage_endpoint,
        )
        try:
            StorageVendor(target.vendor)
        except ValueError:
            raise ConfigError(
                f"STORAGE_VENDOR: {target.vendor} is not a storage vendor code"
            ) from None
        try:
            target.config(["check"])
        except ValidationError as exc:
            raise ConfigError(_storage_error(exc)) from None
        return target

    def config(self, prefix: list[str]) -> StorageConfig:
        """Agora `storageConfig` with `fileNamePrefix` = `prefix`."""
        vendor = StorageVendor(self.vendor)
        params = (
            StorageExtensionParams(endpoint=self.endpoint)
            if vendor is StorageVendor.S3_COMPATIBLE
            else None
        )
        return StorageConfig(
            vendor=vendor,
            region=self.region,
            bucket=self.bucket,
            access_key=self.access_key,
            secret_key=self.secret_key,
            file_name_prefix=prefix,
            extension_params=params,
        )


#: storageConfig fields and the variables that set them.
_STORAGE_VARIABLES: Final = {
    "vendor": "STORAGE_VENDOR",
    "region": "STORAGE_REGION",
    "bucket": "STORAGE_BUCKET",
    "access_key": "STORAGE_ACCESS_KEY",
    "accessKey": "STORAGE_ACCESS_KEY",
    "secret_key": "STORAGE_SECRET_KEY",
    "secretKey": "STORAGE_SECRET_KEY",
    "extension_params": "STORAGE_ENDPOINT",
    "extensionParams": "STORAGE_ENDPOINT",
}


def _storage_error(exc: ValidationError) -> str:
    """The first error of a storageConfig as `VARIABLE: message`, no value, no pydantic URL."""
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    message = str(err["msg"]).removeprefix("Value error, ")
    variable = next((_STORAGE_VARIABLES[p] for p in loc if p in _STORAGE_VARIABLES), None)
    if variable is None:
        # A rule across fields (FieldRuleError) names its field in the message.
        field = message.split(":")[0].split(".")[0]
        variable = _STORAGE_VARIABLES.get(field, "STORAGE_VENDOR")
    return f"{variable}: {message}"


def recording_mode(policy: Policy) -> RecordingMode:
    """The Agora mode of a policy."""
    return RecordingMode(policy.mode.value)


def acquire_request() -> AcquireClientRequest:
    """acquire's `clientRequest` (the client fills `scene` from the mode)."""
    return AcquireClientRequest(resource_expired_hour=RESOURCE_EXPIRED_HOUR)


def recorder_token(
    app_id: str, certificate: SecretStr | None, channel: str, uid: int, policy: Policy
) -> SecretStr | None:
    """An AccessToken2 for the recorder (publisher role), valid the policy's longest
    session plus a margin; None without an App certificate or in web mode."""
    if certificate is None or policy.mode is Mode.WEB:
        return None
    expire_s = policy.max_duration_s + TOKEN_MARGIN_S
    token = build_rtc_token(
        app_id,
        certificate.get_secret_value(),
        channel,
        uid,
        RtcRole.PUBLISHER,
        token_expire_s=expire_s,
        privilege_expire_s=expire_s,
    )
    return SecretStr(token)


def start_request(
    policy: Policy,
    *,
    channel: str,
    storage: StorageTarget,
    token: SecretStr | None,
    observed_live: bool | None,
    started_at: datetime | None = None,
) -> StartClientRequest:
    """start's `clientRequest` for `channel` under `policy`."""
    at = started_at or datetime.now(UTC)
    types = policy.file_types.agora_av_file_types
    files = RecordingFileConfig(av_file_type=[AvFileType(t) for t in types]) if types else None
    storage_config = storage.config(policy.storage_prefix_for(channel, at=at))
    if policy.mode is Mode.WEB:
        return StartClientRequest(
            storage_config=storage_config,
            recording_file_config=files,
            extension_service_config=_web_service(policy, channel),
        )
    return StartClientRequest(
        token=token,
        storage_config=storage_config,
        recording_config=_recording_config(policy, observed_live),
        recording_file_config=files,
        snapshot_config=(
            SnapshotConfig(capture_interval=policy.snapshot_interval_s)
            if policy.snapshot_interval_s is not None
            else None
        ),
    )


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


def _recording_config(policy: Policy, observed_live: bool | None) -> RecordingConfig:
    subs = policy.subscriptions
    individual = policy.mode is Mode.INDIVIDUAL
    return RecordingConfig(
        channel_type=ChannelType(policy.agora_channel_type(observed_live)),
        max_idle_time=policy.max_idle_s,
        stream_types=StreamTypes(policy.streams.agora_stream_types),
        video_stream_type=VideoStreamType(policy.video_stream_type.agora_video_stream_type),
        subscribe_audio_uids=_list(subs.subscribe_audio_uids),
        unsubscribe_audio_uids=_list(subs.unsubscribe_audio_uids),
        subscribe_video_uids=_list(subs.subscribe_video_uids),
        unsubscribe_video_uids=_list(subs.unsubscribe_video_uids),
        subscribe_uid_group=SubscribeUidGroup(policy.subscribe_uid_group) if individual else None,
        stream_mode=(
            StreamMode(policy.stream_mode.value)
            if individual and policy.stream_mode is not None
            else None
        ),
        audio_profile=None if individual else AudioProfile(policy.audio_profile),
        transcoding_config=None if individual else _transcoding(policy),
    )


def _transcoding(policy: Policy) -> TranscodingConfig | None:
    mix = policy.transcoding
    if mix is None:
        return None
    return TranscodingConfig(
        width=mix.width,
        height=mix.height,
        fps=mix.fps,
        bitrate=mix.bitrate_kbps,
        mixed_video_layout=MixedVideoLayout(mix.layout.agora_mixed_video_layout),
        background_color=mix.background_color,
        max_resolution_uid=mix.max_resolution_uid,
        background_image=mix.background_image,
        default_user_background_image=mix.default_user_background_image,
    )


def _web_service(policy: Policy, channel: str) -> ExtensionServiceConfig:
    params = WebRecorderParams(
        url=policy.web_page_url(channel),
        audio_profile=AudioProfile(policy.audio_profile),
        video_width=policy.web_width,
        video_height=policy.web_height,
        max_recording_hour=policy.max_recording_hour,
        video_bitrate=policy.web_bitrate_kbps,
        video_fps=policy.web_fps,
        mobile=policy.web_mobile,
        max_video_duration=policy.web_max_video_duration_min,
        ready_timeout=policy.web_ready_timeout_s,
    )
    return ExtensionServiceConfig(extension_services=[WebRecorderService(service_param=params)])
