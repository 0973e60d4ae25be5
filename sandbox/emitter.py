"""NCS events as the world emits them: productId 1 channel events and productId 3 recording
events (agora-facts §4.3: 30, 31/32, 40, 41, 11, 12, 70, 71), kept in order and handed to a
sink (the delivery queue)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.channels import RtcEvent
from sandbox.config import Clock
from sandbox.models import JsonObject, Mode, NcsEvent, ProductId
from sandbox.recordings import Task, recorded_files

SERVICE_CLOUD, SERVICE_RECORDER, SERVICE_UPLOADER, SERVICE_WEB = 0, 1, 2, 6
EVENT_SESSION_EXIT, EVENT_FAILOVER = 11, 12
EVENT_UPLOADER_STARTED, EVENT_UPLOADED, EVENT_BACKUPED = 30, 31, 32
EVENT_RECORDER_STARTED, EVENT_RECORDER_LEAVE = 40, 41
EVENT_WEB_STARTED, EVENT_WEB_STOPPED = 70, 71

NcsSink = Callable[[NcsEvent], None]


class Emitter:
    """Builds NCS events with unique `noticeId`s; `events` is everything emitted so far."""

    def __init__(self, clock: Clock, notice_prefix: int) -> None:
        self._clock = clock
        self._prefix = notice_prefix
        self._count = 0
        self._sink: NcsSink | None = None
        self.events: list[NcsEvent] = []

    def attach(self, sink: NcsSink | None) -> None:
        """Send every event emitted from now on to `sink` (None detaches)."""
        self._sink = sink

    def _emit(self, product: ProductId, event_type: int, payload: JsonObject) -> None:
        self._count += 1
        notice_id = f"{self._prefix}:{self._count}:{event_type}"
        event = NcsEvent(notice_id, product, event_type, payload, self._clock.monotonic())
        self.events.append(event)
        if self._sink is not None:
            self._sink(event)

    def rtc(self, events: list[RtcEvent]) -> None:
        """Channel events (productId 1)."""
        for event_type, payload in events:
            self._emit(ProductId.RTC, event_type, payload)

    def _task(self, task: Task, event_type: int, service: int, details: JsonObject) -> None:
        payload = {
            "cname": task.cname,
            "uid": str(task.recorder_uid),
            "sid": task.sid,
            "sequence": task.next_sequence(),
            "sendts": int(self._clock.time() * 1000),
            "serviceType": service,
            "details": details,
        }
        self._emit(ProductId.CLOUD_RECORDING, event_type, payload)

    def started(self, task: Task) -> None:
        """30 uploader_started, then 40 recorder_started (70 web_recorder_started in web)."""
        uploader = {"msgName": "uploader_started", "status": 0}
        self._task(task, EVENT_UPLOADER_STARTED, SERVICE_UPLOADER, uploader)
        if task.mode is Mode.WEB:
            web = {"msgName": "web_recorder_started", "recorderStartTime": task.started_at_ms}
            self._task(task, EVENT_WEB_STARTED, SERVICE_WEB, web)
        else:
            recorder = {"msgName": "recorder_started", "status": 0}
            self._task(task, EVENT_RECORDER_STARTED, SERVICE_RECORDER, recorder)

    def recorder_left(self, task: Task, leave_code: int) -> None:
        """41 recorder_leave with its leaveCode bitmask."""
        details = {"msgName": "recorder_leave", "leaveCode": leave_code}
        self._task(task, EVENT_RECORDER_LEAVE, SERVICE_RECORDER, details)

    def web_stopped(self, task: Task, code: int, message: str) -> None:
        """71 web_recorder_stopped (0 ok, 1 max_recording_hour, 6 recorder_error)."""
        files = [
            {"filename": f.file_name, "sliceStartTime": f.slice_start_ms}
            for f in recorded_files(task)
        ]
        details = {
            "msgName": "web_recorder_stopped",
            "code": code,
            "message": message,
            "details": message,
            "fileList": files,
        }
        self._task(task, EVENT_WEB_STOPPED, SERVICE_WEB, details)

    def uploaded(self, task: Task) -> None:
        """31 uploaded, or 32 backuped when files went to Agora Cloud Backup."""
        backup = task.backup_upload
        details: JsonObject = {"msgName": "backuped" if backup else "uploaded", "status": 0}
        if task.mode is not Mode.WEB:
            details["fileList"] = [f.as_json() for f in recorded_files(task)]
        event_type = EVENT_BACKUPED if backup else EVENT_UPLOADED
        self._task(task, event_type, SERVICE_UPLOADER, details)

    def session_exit(self, task: Task, exit_status: int) -> None:
        """11 session_exit: 0 normal, 1 abnormal."""
        details = {"msgName": "session_exit", "exitStatus": exit_status}
        self._task(task, EVENT_SESSION_EXIT, SERVICE_CLOUD, details)

    def failover(self, task: Task, new_uid: int) -> None:
        """12 session_failover with the recorder's new uid."""
        details = {"msgName": "session_failover", "newUid": new_uid}
        self._task(task, EVENT_FAILOVER, SERVICE_CLOUD, details)
