"""The `start` clientRequest per mode (agora-facts §2.4), reduced to what the simulation uses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox.fields import Fields, InvalidParameter, check_uid
from sandbox.layout import TRANSCODING_FIELDS, check_transcoding
from sandbox.models import Mode

START_FIELDS = (
    "token",
    "storageConfig",
    "recordingConfig",
    "recordingFileConfig",
    "snapshotConfig",
    "extensionServiceConfig",
)
STORAGE_FIELDS = (
    "vendor",
    "region",
    "bucket",
    "accessKey",
    "secretKey",
    "stsToken",
    "stsExpiration",
    "fileNamePrefix",
    "extensionParams",
)
RECORDING_FIELDS = (
    "channelType",
    "decryptionMode",
    "secret",
    "salt",
    "maxIdleTime",
    "streamTypes",
    "videoStreamType",
    "subscribeAudioUids",
    "unsubscribeAudioUids",
    "subscribeVideoUids",
    "unsubscribeVideoUids",
    "subscribeUidGroup",
    "streamMode",
    "audioProfile",
    "transcodingConfig",
)
#: Storage vendor → region codes it accepts (agora-facts §2.4, DS:region).
STORAGE_REGIONS: dict[int, frozenset[int]] = {
    1: frozenset(range(26)) - {17, 23},
    2: frozenset(range(28)),
    3: frozenset(range(20)),
    5: frozenset({0}),
    6: frozenset({0}),
    7: frozenset(range(16)),
    8: frozenset(range(8)),
    11: frozenset({0}),
}
_STS_VENDORS = frozenset({1, 2, 3})
_PREFIX_ELEMENT = re.compile(r"[A-Za-z0-9]+")
ALL_STREAMS = "#allstream#"
MAX_UID_LIST = 32
STREAM_AUDIO, STREAM_VIDEO, STREAM_BOTH = 0, 1, 2


@dataclass(frozen=True)
class UidFilter:
    """Which uids' streams of one media type the recorder takes."""

    subscribed: bool = True
    include: frozenset[str] | None = None  # None: every uid
    exclude: frozenset[str] = frozenset()

    def admits(self, uid: int) -> bool:
        """Whether this uid's stream of the media type is recorded."""
        if not self.subscribed or str(uid) in self.exclude:
            return False
        return self.include is None or ALL_STREAMS in self.include or str(uid) in self.include


@dataclass(frozen=True)
class StartSpec:
    """What a validated start request asks the recorder to do."""

    token: str | None = None
    channel_type: int = 0
    max_idle_s: int = 30
    stream_types: int = STREAM_BOTH
    audio: UidFilter = field(default_factory=UidFilter)
    video: UidFilter = field(default_factory=UidFilter)
    av_file_types: tuple[str, ...] = ("hls",)
    snapshot: bool = False
    file_name_prefix: tuple[str, ...] = ()
    max_recording_hour: int = 0
    onhold: bool = False
    rtmp_urls: tuple[str, ...] = ()


def check_storage(storage: Fields) -> tuple[str, ...]:
    """storageConfig rules; returns fileNamePrefix (elements `[A-Za-z0-9]`, ≤ 128 in all)."""
    vendor = storage.integer("vendor", 0, 2**31, required=True, allowed=STORAGE_REGIONS)
    assert vendor is not None
    storage.integer("region", 0, 2**31, required=True, allowed=STORAGE_REGIONS[vendor])
    for key in ("bucket", "accessKey", "secretKey"):
        storage.text(key, required=True)
    if storage.has("stsToken") and vendor not in _STS_VENDORS:
        raise InvalidParameter(storage.at("stsToken"), "is only for vendors 1, 2 and 3")
    storage.text("stsToken")
    storage.integer("stsExpiration", 0, 2**63)
    prefix = storage.texts("fileNamePrefix") or []
    for element in prefix:
        if not _PREFIX_ELEMENT.fullmatch(element):
            raise InvalidParameter(storage.at("fileNamePrefix"), "elements must be [A-Za-z0-9]")
    if len("/".join(prefix)) > 128:
        raise InvalidParameter(storage.at("fileNamePrefix"), "must be at most 128 characters")
    params = storage.obj("extensionParams", ("sse", "tag", "endpoint"), required=vendor == 11)
    if params is not None:
        if params.has("sse") and vendor != 1:
            raise InvalidParameter(params.at("sse"), "is only for Amazon S3 (vendor 1)")
        params.choice("sse", ("kms", "aes256"))
        params.text("tag")
        params.text("endpoint", required=vendor == 11)
    return tuple(prefix)


def uid_filter(holder: Fields, sub_key: str, unsub_key: str, allowed: bool) -> UidFilter | None:
    """A subscribe/unsubscribe uid list pair (≤ 32, mutually exclusive); None when absent."""
    include = holder.texts(sub_key, max_items=MAX_UID_LIST)
    exclude = holder.texts(unsub_key, max_items=MAX_UID_LIST)
    if include is None and exclude is None:
        return None
    if not allowed:
        raise InvalidParameter(
            holder.at(sub_key if include else unsub_key), "is not allowed by streamTypes"
        )
    if include is not None and exclude is not None:
        raise InvalidParameter(holder.at(unsub_key), f"cannot be set together with {sub_key}")
    for key, uids in ((sub_key, include), (unsub_key, exclude)):
        for uid in uids or []:
            if uid != ALL_STREAMS:
                check_uid(uid, holder.at(key))
    if include is not None:
        return UidFilter(include=frozenset(include))
    return UidFilter(exclude=frozenset(exclude or ()))


def _recording(mode: Mode, rec: Fields) -> tuple[int, int, int, UidFilter, UidFilter]:
    channel_type = rec.integer("channelType", 0, 1, required=True)
    decryption = rec.integer("decryptionMode", 0, 8) or 0
    rec.text("secret", required=decryption != 0)
    rec.text("salt", required=decryption in (7, 8))
    max_idle_s = rec.integer("maxIdleTime", 5, 2_592_000)
    stream_types = rec.integer("streamTypes", 0, 2)
    streams = STREAM_BOTH if stream_types is None else stream_types
    rec.integer("videoStreamType", 0, 1)
    if mode is Mode.INDIVIDUAL:
        rec.integer("subscribeUidGroup", 0, 5, required=True)
        stream_mode = rec.choice("streamMode", ("default", "standard", "original"))
        if stream_mode == "original" and streams != STREAM_AUDIO:
            raise InvalidParameter(rec.at("streamMode"), "original needs streamTypes 0")
        for key in ("audioProfile", "transcodingConfig"):
            rec.forbid(key, "is for mix mode only")
    else:
        rec.forbid("subscribeUidGroup", "is for individual mode only")
        rec.forbid("streamMode", "is for individual mode only")
        rec.integer("audioProfile", 0, 2)
        transcoding = rec.obj("transcodingConfig", TRANSCODING_FIELDS)
        if transcoding is not None:
            check_transcoding(transcoding)
    audio = uid_filter(rec, "subscribeAudioUids", "unsubscribeAudioUids", streams != STREAM_VIDEO)
    video = uid_filter(rec, "subscribeVideoUids", "unsubscribeVideoUids", streams != STREAM_AUDIO)
    off = UidFilter(subscribed=False)
    # A list for one media type only means the other type is not subscribed at all.
    if streams == STREAM_BOTH and (audio is None) != (video is None):
        audio, video = audio or off, video or off
    audio = off if streams == STREAM_VIDEO else audio or UidFilter()
    video = off if streams == STREAM_AUDIO else video or UidFilter()
    return channel_type or 0, 30 if max_idle_s is None else max_idle_s, streams, audio, video


def _file_types(config: Fields | None) -> tuple[str, ...]:
    if config is None:
        return ()
    types = config.texts("avFileType", required=True) or []
    if sorted(types) not in (["hls"], ["hls", "mp4"]):
        raise InvalidParameter(config.at("avFileType"), 'must be ["hls"] or ["hls","mp4"]')
    return tuple(sorted(types))


def _web(config: Fields) -> tuple[int, bool, tuple[str, ...]]:
    config.choice("errorHandlePolicy", ("error_abort",))
    services = config.objs(
        "extensionServices", ("serviceName", "errorHandlePolicy", "serviceParam"), required=True
    )
    max_hour, onhold = 0, False
    rtmp_urls: tuple[str, ...] = ()
    for service in services or []:
        name = service.choice(
            "serviceName", ("web_recorder_service", "rtmp_publish_service"), required=True
        )
        service.choice("errorHandlePolicy", ("error_abort", "error_ignore"))
        if name == "rtmp_publish_service":
            param = service.obj("serviceParam", ("outputs",), required=True)
            assert param is not None
            outputs = param.objs("outputs", ("rtmpUrl",), required=True, max_items=1) or []
            rtmp_urls = tuple(str(out.text("rtmpUrl", required=True)) for out in outputs)
            if not all(url.startswith(("rtmp://", "rtmps://")) for url in rtmp_urls):
                raise InvalidParameter(param.at("outputs"), "rtmpUrl must be rtmp:// or rtmps://")
            continue
        param = service.obj("serviceParam", _WEB_PARAMS, required=True)
        assert param is not None
        url = param.text("url", required=True) or ""
        if not url.startswith(("http://", "https://")):
            raise InvalidParameter(param.at("url"), "must be an http(s) URL")
        param.integer("audioProfile", 0, 2, required=True)
        width = param.integer("videoWidth", 1, 1920, required=True) or 0
        height = param.integer("videoHeight", 1, 1920, required=True) or 0
        if width * height > 1920 * 1080:
            raise InvalidParameter(param.at("videoWidth"), "times videoHeight exceeds 1920x1080")
        max_hour = param.integer("maxRecordingHour", 1, 720, required=True) or 0
        param.integer("videoBitrate", 50, 8000)
        param.integer("videoFps", 5, 60)
        param.flag("mobile")
        param.integer("maxVideoDuration", 30, 240)
        onhold = bool(param.flag("onhold"))
        param.integer("readyTimeout", 0, 60)
    if not max_hour:
        raise InvalidParameter(config.at("extensionServices"), "needs a web_recorder_service")
    return max_hour, onhold, rtmp_urls


_WEB_PARAMS = (
    "url",
    "audioProfile",
    "videoWidth",
    "videoHeight",
    "maxRecordingHour",
    "videoBitrate",
    "videoFps",
    "mobile",
    "maxVideoDuration",
    "onhold",
    "readyTimeout",
)


def parse_start(mode: Mode, request: Fields) -> StartSpec:
    """Validate a start `clientRequest` for `mode`; raises InvalidParameter naming the field."""
    storage = request.obj("storageConfig", STORAGE_FIELDS, required=True)
    assert storage is not None
    prefix = check_storage(storage)
    file_config = request.obj("recordingFileConfig", ("avFileType",))
    if mode is Mode.WEB:
        for key in ("token", "recordingConfig", "snapshotConfig"):
            request.forbid(key, "is not used in web mode")
        web = request.obj("extensionServiceConfig", ("errorHandlePolicy", "extensionServices"))
        if web is None:
            raise InvalidParameter(request.at("extensionServiceConfig"), "is required in web mode")
        max_hour, onhold, rtmp_urls = _web(web)
        file_types = _file_types(file_config) or ("hls",)
        return StartSpec(
            file_name_prefix=prefix,
            av_file_types=file_types,
            max_recording_hour=max_hour,
            onhold=onhold,
            rtmp_urls=rtmp_urls,
        )
    request.forbid("extensionServiceConfig", "is for web mode only")
    token = request.text("token")
    rec = request.obj("recordingConfig", RECORDING_FIELDS, required=True)
    assert rec is not None
    channel_type, max_idle_s, streams, audio, video = _recording(mode, rec)
    snapshot = request.obj("snapshotConfig", ("captureInterval", "fileType"))
    if snapshot is not None:
        if mode is not Mode.INDIVIDUAL:
            raise InvalidParameter(request.at("snapshotConfig"), "is for individual mode only")
        snapshot.integer("captureInterval", 5, 3600)
        if snapshot.texts("fileType", required=True) != ["jpg"]:
            raise InvalidParameter(snapshot.at("fileType"), 'must be ["jpg"]')
        if streams == STREAM_AUDIO:
            raise InvalidParameter(rec.at("streamTypes"), "must be 1 or 2 for snapshots")
    elif file_config is None:
        raise InvalidParameter(request.at("recordingFileConfig"), "is required")
    return StartSpec(
        token=token,
        channel_type=channel_type,
        max_idle_s=max_idle_s,
        stream_types=streams,
        audio=audio,
        video=video,
        av_file_types=_file_types(file_config),
        snapshot=snapshot is not None,
        file_name_prefix=prefix,
    )
