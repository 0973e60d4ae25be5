"""Resources and recording tasks: status progression, file names as Agora builds them, and the
query/stop bodies (agora-facts §2.5, §2.8, §8 item 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.models import AgoraError, ExitReason, JsonObject, Mode, Phase
from sandbox.start_spec import STREAM_AUDIO, STREAM_VIDEO, StartSpec, UidFilter

#: (Agora seconds after start, status): 1 initialised, 2 starting, 3 some ready, 4 all ready.
STATUS_STEPS_S = ((0.0, 1), (1.0, 2), (2.0, 3), (3.0, 4))
#: Agora seconds after start (and after the first publisher) when the first file is uploaded.
FIRST_UPLOAD_S = 5.0
STATUS_ALL_READY, STATUS_RECORDING = 4, 5
MIX_TRACK = {STREAM_AUDIO: "audio", STREAM_VIDEO: "video"}


@dataclass
class Resource:
    """An acquired resource ID: valid for one start within its TTL."""

    resource_id: str
    cname: str
    uid: str
    scene: int
    expires_at_s: float
    resource_expired_hour: int
    start_parameter: dict[str, Any] | None
    sid: str | None = None


@dataclass(frozen=True)
class RecordedFile:
    """One file of a recording as Agora lists it."""

    file_name: str
    track_type: str
    uid: str
    mixed_all_user: bool
    slice_start_ms: int

    def as_json(self) -> JsonObject:
        """The fileList item (query, stop, NCS 31/32)."""
        return {
            "fileName": self.file_name,
            "trackType": self.track_type,
            "uid": self.uid,
            "mixedAllUser": self.mixed_all_user,
            "isPlayable": True,
            "sliceStartTime": self.slice_start_ms,
        }


@dataclass
class Task:
    """One recording, from a successful start until it has exited."""

    sid: str
    resource_id: str
    cname: str
    uid: str
    mode: Mode
    spec: StartSpec
    started_at_s: float
    started_at_ms: int
    #: Monotonic second after which query/update/stop no longer reach it (resourceExpiredHour).
    api_until_s: float
    recorder_uid: int
    phase: Phase = Phase.RUNNING
    exit_reason: ExitReason | None = None
    exit_at_s: float | None = None
    ended_at_ms: int | None = None
    idle_since_s: float | None = None
    first_publisher_at_s: float | None = None
    #: Qualifying users seen during the task: uid → Unix ms first seen.
    publishers: dict[int, int] = field(default_factory=dict)
    failovers: int = 0
    unavailable_until_s: float = float("-inf")
    token_valid_until_unix_s: float | None = None
    backup_upload: bool = False
    onhold: bool = False
    rtmp_urls: tuple[str, ...] = ()
    audio: UidFilter = field(default_factory=UidFilter)
    video: UidFilter = field(default_factory=UidFilter)
    sequence: int = -1

    def next_sequence(self) -> int:
        """The next productId-3 `sequence` of this task (from 0)."""
        self.sequence += 1
        return self.sequence

    def status(self, now_s: float, time_scale: float) -> int:
        """Query status: 1-4 while components start, 5 once the first file is uploaded."""
        elapsed = (now_s - self.started_at_s) / time_scale
        status = 1
        for after_s, step in STATUS_STEPS_S:
            if elapsed >= after_s:
                status = step
        if status < STATUS_ALL_READY:
            return status
        if self.mode is Mode.WEB:
            uploading_since_s = self.started_at_s
        elif self.first_publisher_at_s is not None:
            uploading_since_s = max(self.started_at_s, self.first_publisher_at_s)
        else:
            return STATUS_ALL_READY
        if (now_s - uploading_since_s) / time_scale >= FIRST_UPLOAD_S:
            return STATUS_RECORDING
        return STATUS_ALL_READY

    def has_data(self) -> bool:
        """Whether anything was recorded (else stop answers 206/435)."""
        return self.mode is Mode.WEB or bool(self.publishers)

    def summary(self, now_s: float, time_scale: float) -> JsonObject:
        """JSON view for the admin API."""
        return {
            "sid": self.sid,
            "resource_id": self.resource_id,
            "cname": self.cname,
            "uid": self.uid,
            "recorder_uid": self.recorder_uid,
            "mode": str(self.mode),
            "phase": str(self.phase),
            "status": self.status(now_s, time_scale) if self.phase is Phase.RUNNING else None,
            "started_at_ms": self.started_at_ms,
            "ended_at_ms": self.ended_at_ms,
            "exit_reason": None if self.exit_reason is None else str(self.exit_reason),
            "failovers": self.failovers,
            "publishers": sorted(self.publishers),
        }

    def identity(self) -> JsonObject:
        """cname, uid, resourceId and sid, as Agora answers carry them."""
        return {
            "cname": self.cname,
            "uid": self.uid,
            "resourceId": self.resource_id,
            "sid": self.sid,
        }


def recorded_files(task: Task) -> list[RecordedFile]:
    """The files of a task: `<sid>_<cname>...` under fileNamePrefix, `bak<n>_` after failovers."""
    folder = "".join(f"{element}/" for element in task.spec.file_name_prefix)
    names = [f"{folder}{bak}{task.sid}_{task.cname}" for bak in _bak_prefixes(task)]
    mp4 = "mp4" in task.spec.av_file_types
    if task.mode is Mode.WEB:
        start_ms = task.started_at_ms
        kinds = [".m3u8", "_0.mp4"] if mp4 else [".m3u8"]
        return [
            RecordedFile(f"{name}{kind}", "audio_and_video", "0", True, start_ms)
            for name in names
            for kind in kinds
        ]
    if not task.publishers or not task.spec.av_file_types:
        return []
    if task.mode is Mode.MIX:
        start_ms = min(task.publishers.values())
        track = MIX_TRACK.get(task.spec.stream_types, "audio_and_video")
        kinds = [".m3u8", "_0.mp4"] if mp4 else [".m3u8"]
        return [
            RecordedFile(f"{name}{kind}", track, "0", True, start_ms)
            for name in names
            for kind in kinds
        ]
    files: list[RecordedFile] = []
    for uid, first_ms in task.publishers.items():
        for track, uid_filter in (("audio", task.audio), ("video", task.video)):
            if uid_filter.admits(uid):
                files.extend(
                    RecordedFile(
                        f"{name}__uid_s_{uid}__uid_e_{track}.m3u8", track, str(uid), False, first_ms
                    )
                    for name in names
                )
    return files


def _bak_prefixes(task: Task) -> list[str]:
    return ["", *(f"bak{n}_" for n in range(task.failovers))]


def _web_state(task: Task, state: str) -> list[JsonObject]:
    files = [
        {"filename": f.file_name, "sliceStartTime": f.slice_start_ms} for f in recorded_files(task)
    ]
    states: list[JsonObject] = [
        {
            "serviceName": "web_recorder_service",
            "payload": {"fileList": files, "onhold": task.onhold, "state": state},
        }
    ]
    if task.rtmp_urls:
        status = "disconnected" if state == "exit" else "publishing"
        outputs = [{"rtmpUrl": url, "status": status} for url in task.rtmp_urls]
        states.append(
            {"serviceName": "rtmp_publish_service", "payload": {"outputs": outputs, "state": state}}
        )
    return states


def _file_list(task: Task, files: list[RecordedFile]) -> JsonObject:
    if task.mode is Mode.MIX and task.spec.av_file_types == ("hls",):
        return {"fileListMode": "string", "fileList": files[0].file_name if files else ""}
    return {"fileListMode": "json", "fileList": [f.as_json() for f in files]}


def query_body(task: Task, now_s: float, time_scale: float) -> JsonObject:
    """The 200 body of query for a running task."""
    status = task.status(now_s, time_scale)
    server: JsonObject = {"status": status}
    if task.mode is Mode.WEB:
        server["extensionServiceState"] = _web_state(task, "inProgress")
    elif task.spec.snapshot and not task.spec.av_file_types:
        server["sliceStartTime"] = task.started_at_ms
    else:
        files = recorded_files(task) if status == STATUS_RECORDING else []
        server.update(_file_list(task, files))
        if task.mode is Mode.INDIVIDUAL:
            server["sliceStartTime"] = task.started_at_ms
    return {**task.identity(), "serverResponse": server}


def uploading_status(task: Task) -> str:
    """`uploaded`, or `backuped` when files went to Agora Cloud Backup."""
    return "backuped" if task.backup_upload else "uploaded"


def stop_body(task: Task) -> JsonObject:
    """The 200 body of stop; raises the 206/435 answer when nothing was recorded."""
    if not task.has_data():
        raise AgoraError(206, code=435, reason="no recorded data", extra=task.identity())
    uploading = uploading_status(task)
    server: JsonObject
    if task.mode is Mode.WEB:
        upload = {"serviceName": "upload_service", "payload": {"uploadingStatus": uploading}}
        server = {"extensionServiceState": [upload, *_web_state(task, "exit")]}
    elif task.spec.snapshot and not task.spec.av_file_types:
        server = {"uploadingStatus": uploading}
    else:
        server = {**_file_list(task, recorded_files(task)), "uploadingStatus": uploading}
    return {**task.identity(), "serverResponse": server}
