"""Request bodies of acquire, update, updateLayout and stop, and the (cname, uid) rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.fields import Fields, InvalidParameter, check_uid, is_channel_name
from sandbox.layout import LAYOUT_FIELDS, check_layout
from sandbox.models import AgoraError, Mode
from sandbox.start_spec import (
    START_FIELDS,
    STORAGE_FIELDS,
    STREAM_AUDIO,
    STREAM_VIDEO,
    StartSpec,
    UidFilter,
    check_storage,
    uid_filter,
)

SCENE_REALTIME, SCENE_WEB, SCENE_POSTPONED = 0, 1, 2
_ACQUIRE_FIELDS = (
    "scene",
    "resourceExpiredHour",
    "excludeResourceIds",
    "region",
    "regionAffinity",
    "startParameter",
)
_UPDATE_FIELDS = ("streamSubscribe", "webRecordingConfig", "rtmpPublishConfig", "storageConfig")
WEB_CNAME_MAX_BYTES = 1024


@dataclass(frozen=True)
class Identity:
    """The (cname, uid) pair every body carries, and its clientRequest."""

    cname: str
    uid: str
    request: Fields


@dataclass(frozen=True)
class AcquireRequest:
    """A valid acquire body."""

    cname: str
    uid: str
    scene: int
    resource_expired_hour: int
    start_parameter: dict[str, Any] | None


@dataclass(frozen=True)
class UpdateRequest:
    """What an update changes; None leaves a setting as it is."""

    audio: UidFilter | None = None
    video: UidFilter | None = None
    onhold: bool | None = None
    rtmp_urls: tuple[str, ...] | None = None


def read_identity(body: object, request_fields: tuple[str, ...], *, web: bool) -> Identity:
    """cname (RTC channel rules, or ≤ 1024 bytes in web mode), uid and clientRequest."""
    top = Fields(body, "", ("cname", "uid", "clientRequest"))
    cname = top.text("cname", required=True, max_bytes=WEB_CNAME_MAX_BYTES if web else None)
    assert cname is not None
    if not web and not is_channel_name(cname):
        raise AgoraError(400, code=401, reason="invalid_channel_name")
    if not top.has("uid"):
        raise InvalidParameter("uid", "is required")
    uid = check_uid(top.data["uid"], "uid")
    request = top.obj("clientRequest", request_fields, required=True)
    assert request is not None
    return Identity(cname, uid, request)


def parse_acquire(body: object) -> AcquireRequest:
    """Validate an acquire body (the startParameter is checked later, at start)."""
    scene = _peek_scene(body)
    ident = read_identity(body, _ACQUIRE_FIELDS, web=scene == SCENE_WEB)
    request = ident.request
    request.integer("scene", 0, 2)
    hours = request.integer("resourceExpiredHour", 1, 720)
    request.texts("excludeResourceIds")
    request.choice("region", ("CN", "AP", "EU", "NA"))
    request.integer("regionAffinity", 0, 4)
    start_parameter = request.obj("startParameter", START_FIELDS)
    return AcquireRequest(
        cname=ident.cname,
        uid=ident.uid,
        scene=scene,
        resource_expired_hour=72 if hours is None else hours,
        start_parameter=None if start_parameter is None else start_parameter.data,
    )


def _peek_scene(body: object) -> int:
    if isinstance(body, dict) and isinstance(body.get("clientRequest"), dict):
        scene = body["clientRequest"].get("scene", SCENE_REALTIME)
        if scene in (SCENE_REALTIME, SCENE_WEB, SCENE_POSTPONED):
            return int(scene)
    return SCENE_REALTIME


def check_scene(mode: Mode, scene: int) -> None:
    """Web mode needs a resource acquired with scene 1; individual/mix need scene 0 (or 2)."""
    if (mode is Mode.WEB) != (scene == SCENE_WEB):
        raise InvalidParameter("mode", f"{mode} does not fit the resource's acquire scene {scene}")
    if scene == SCENE_POSTPONED and mode is not Mode.INDIVIDUAL:
        raise InvalidParameter("mode", "scene 2 (postponed transcoding) is individual mode only")


def parse_stop(body: object, *, web: bool) -> tuple[Identity, bool]:
    """A stop body; returns its identity and `async_stop`."""
    ident = read_identity(body, ("async_stop",), web=web)
    return ident, bool(ident.request.flag("async_stop"))


def parse_update(body: object, mode: Mode, spec: StartSpec) -> tuple[Identity, UpdateRequest]:
    """An update body for a task of `mode` started with `spec`."""
    ident = read_identity(body, _UPDATE_FIELDS, web=mode is Mode.WEB)
    request = ident.request
    storage = request.obj("storageConfig", STORAGE_FIELDS)
    if storage is not None:
        check_storage(storage)
    if mode is Mode.WEB:
        request.forbid("streamSubscribe", "is not used in web mode")
        web = request.obj("webRecordingConfig", ("onhold",))
        onhold = None if web is None else web.flag("onhold")
        rtmp = request.obj("rtmpPublishConfig", ("outputs",))
        urls = None
        if rtmp is not None:
            outputs = rtmp.objs("outputs", ("rtmpUrl",), required=True, max_items=1) or []
            urls = tuple(output.text("rtmpUrl", required=True) or "" for output in outputs)
            if not all(url.startswith(("rtmp://", "rtmps://")) for url in urls):
                raise InvalidParameter(rtmp.at("outputs"), "rtmpUrl must be rtmp:// or rtmps://")
        return ident, UpdateRequest(onhold=onhold, rtmp_urls=urls)
    for key in ("webRecordingConfig", "rtmpPublishConfig"):
        request.forbid(key, "is for web mode only")
    subscribe = request.obj("streamSubscribe", ("audioUidList", "videoUidList"))
    if subscribe is None:
        return ident, UpdateRequest()
    audio_list = subscribe.obj("audioUidList", ("subscribeAudioUids", "unsubscribeAudioUids"))
    video_list = subscribe.obj("videoUidList", ("subscribeVideoUids", "unsubscribeVideoUids"))
    audio = video = None
    if audio_list is not None:
        audio = _list_filter(
            audio_list, "subscribeAudioUids", "unsubscribeAudioUids", spec.stream_types
        )
    if video_list is not None:
        video = _list_filter(
            video_list, "subscribeVideoUids", "unsubscribeVideoUids", spec.stream_types
        )
    return ident, UpdateRequest(audio=audio, video=video)


def _list_filter(holder: Fields, sub_key: str, unsub_key: str, stream_types: int) -> UidFilter:
    excluded_type = STREAM_VIDEO if sub_key.endswith("AudioUids") else STREAM_AUDIO
    found = uid_filter(holder, sub_key, unsub_key, stream_types != excluded_type)
    if found is None:
        raise InvalidParameter(holder.path, f"needs {sub_key} or {unsub_key}")
    return found


def parse_update_layout(body: object) -> Identity:
    """An updateLayout body (mix mode): the same layout rules as transcodingConfig."""
    ident = read_identity(body, LAYOUT_FIELDS, web=False)
    check_layout(ident.request)
    return ident
