"""The sandbox's in-memory world: channels, resources, tasks, faults, calls and stats.

No HTTP here. Time comes from the config clock; timers (idle exit, exit phase, web
maxRecordingHour, token expiry) are evaluated lazily by `tick()`, which the routes call on
every request and the app's lifespan calls in a loop. NCS events go to `ncs_events` and to
the sink the app attaches (the delivery queue).
"""

from __future__ import annotations

import logging
import random

from sandbox.channels import (
    CLIENT_TYPE_CLOUD_RECORDING,
    PLATFORM_LINUX,
    ChannelBook,
    ChannelError,
)
from sandbox.config import SandboxConfig
from sandbox.emitter import Emitter, NcsSink
from sandbox.faults import FaultBook
from sandbox.fields import UID_MAX
from sandbox.models import (
    CallRecord,
    ExitReason,
    JsonObject,
    Mode,
    NcsEvent,
    Phase,
    Profile,
    Role,
    Stats,
)
from sandbox.qps import QpsWindow
from sandbox.recordings import Resource, Task
from sandbox.tokens import TokenError, verify_rtc_token

logger = logging.getLogger(__name__)

LEAVE_CODE_INIT, LEAVE_CODE_SIG, LEAVE_CODE_NO_USERS = 0, 2, 4
LEAVE_REASON_NORMAL, LEAVE_REASON_SERVER, LEAVE_REASON_NEW_DEVICE = 1, 4, 5
LEAVE_REASON_TOKEN = 12
MAX_FAILOVERS = 3


class Sandbox:
    """Everything the simulated Agora knows."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.rng = random.Random(config.seed)
        self.channels = ChannelBook(self.clock)
        self.faults = FaultBook(self.clock, self.rng)
        self.resources: dict[str, Resource] = {}
        self.tasks: dict[str, Task] = {}
        self.calls: list[CallRecord] = []
        self.emit = Emitter(self.clock, self.rng.randrange(10**9, 10**10))
        self.stats = Stats()
        self._running: set[str] = set()
        self._exiting: set[str] = set()
        self.qps = QpsWindow(self.clock, config.qps_limit)

    # --- plumbing -------------------------------------------------------------------------

    def attach_sink(self, sink: NcsSink | None) -> None:
        """Send every NCS event emitted from now on to `sink` (None detaches)."""
        self.emit.attach(sink)

    @property
    def ncs_events(self) -> list[NcsEvent]:
        """Every NCS event emitted since the start (or the last reset), in order."""
        return self.emit.events

    @property
    def active(self) -> int:
        """Tasks running now (from a successful start until stopped or exited)."""
        return len(self._running)

    def stats_view(self) -> JsonObject:
        """The `GET /_sandbox/stats` body."""
        return {"active": self.active, **self.stats.as_dict()}

    def reset(self) -> None:
        """Forget channels, resources, tasks, calls, faults, NCS events and stats."""
        self.channels.clear()
        self.faults.clear()
        self.resources.clear()
        self.tasks.clear()
        self.calls.clear()
        self.emit.events.clear()
        self.stats = Stats()
        self._running.clear()
        self._exiting.clear()
        self.qps.clear()

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # --- channels (admin) -----------------------------------------------------------------

    def join(self, channel: str, uid: int, *, role: Role, profile: Profile, platform: int) -> None:
        """A user joins; a recorder holding that uid in the channel is kicked out (dies)."""
        member = self.channels.member(channel, uid)
        if member is not None and member.recorder_sid is not None:
            self._die(
                self.tasks[member.recorder_sid], ExitReason.UID_CONFLICT, LEAVE_REASON_NEW_DEVICE
            )
        self.emit.rtc(
            self.channels.join(channel, uid, role=role, profile=profile, platform=platform)
        )
        self._refresh_channel(channel)

    def leave(self, channel: str, uid: int, reason: int = LEAVE_REASON_NORMAL) -> None:
        """A user leaves."""
        member = self.channels.member(channel, uid)
        if member is not None and member.is_recorder:
            raise ChannelError(409, f"uid {uid} is a recorder; kill its recording instead")
        self.emit.rtc(self.channels.leave(channel, uid, reason))
        self._refresh_channel(channel)

    def set_role(self, channel: str, uid: int, role: Role) -> None:
        """A live-profile user changes role."""
        self.emit.rtc(self.channels.set_role(channel, uid, role))
        self._refresh_channel(channel)

    def _refresh_channel(self, channel: str) -> None:
        for sid in list(self._running):
            task = self.tasks[sid]
            if task.cname == channel and task.mode is not Mode.WEB:
                self._observe(task)

    def _observe(self, task: Task) -> None:
        """Update a running task's idle timer and publishers from its channel's members."""
        channel = self.channels.get(task.cname)
        qualifying = [] if channel is None else channel.qualifying_uids()
        now_s = self.clock.monotonic()
        for uid in qualifying:
            task.publishers.setdefault(uid, self._now_ms())
        if qualifying:
            task.idle_since_s = None
            if task.first_publisher_at_s is None:
                task.first_publisher_at_s = now_s
        elif task.idle_since_s is None:
            task.idle_since_s = now_s

    # --- task lifecycle -------------------------------------------------------------------

    def launch(self, task: Task) -> None:
        """A start succeeded: the task runs, its recorder joins the channel (or dies)."""
        self.tasks[task.sid] = task
        self._running.add(task.sid)
        self.stats.started_total += 1
        self.stats.peak_active = max(self.stats.peak_active, self.active)
        if task.mode is Mode.WEB:
            self.emit.started(task)
            return
        if self.config.app_certificate is not None:
            try:
                task.token_valid_until_unix_s = verify_rtc_token(
                    task.spec.token or "",
                    app_id=self.config.app_id,
                    certificate=self.config.app_certificate,
                    channel=task.cname,
                    uid=str(task.recorder_uid),
                    now_s=self.clock.time(),
                )
            except TokenError as exc:
                logger.info("recording %s cannot join %r: %s", task.sid, task.cname, exc)
                self._die(task, ExitReason.TOKEN_REJECTED)
                return
        if self.channels.member(task.cname, task.recorder_uid) is not None:
            logger.info("recording %s: uid %s is already in the channel", task.sid, task.uid)
            self._die(task, ExitReason.UID_CONFLICT)
            return
        self.emit.started(task)
        self._recorder_join(task)
        self._observe(task)

    def _recorder_join(self, task: Task) -> None:
        existing = self.channels.get(task.cname)
        if existing is not None:
            profile = existing.profile
        else:
            profile = Profile.LIVE if task.spec.channel_type == 1 else Profile.COMMUNICATION
        role = self.config.recorder_live_role if profile is Profile.LIVE else Role.HOST
        events = self.channels.join(
            task.cname,
            task.recorder_uid,
            role=role,
            profile=profile,
            platform=PLATFORM_LINUX,
            client_type=CLIENT_TYPE_CLOUD_RECORDING,
            recorder_sid=task.sid,
        )
        self.emit.rtc(events)

    def _recorder_leave(self, task: Task, reason: int) -> None:
        member = self.channels.member(task.cname, task.recorder_uid)
        if member is not None and member.recorder_sid == task.sid:
            self.emit.rtc(self.channels.leave(task.cname, task.recorder_uid, reason))

    def stop_task(self, task: Task) -> None:
        """The stop API ends a running task: it starts exiting now."""
        self._begin_exit(task, ExitReason.STOPPED, self.clock.monotonic(), LEAVE_CODE_SIG)

    def _begin_exit(self, task: Task, reason: ExitReason, at_s: float, leave_code: int) -> None:
        self._running.discard(task.sid)
        self._exiting.add(task.sid)
        task.phase, task.exit_reason = Phase.EXITING, reason
        task.exit_at_s = at_s + self.config.agora_s(self.config.exit_s)
        if task.mode is Mode.WEB:
            code, message = (
                (1, "max_recording_hour") if reason is ExitReason.MAX_RECORDING_HOUR else (0, "ok")
            )
            self.emit.web_stopped(task, code, message)
        else:
            self._recorder_leave(task, LEAVE_REASON_NORMAL)
            self.emit.recorder_left(task, leave_code)
        if task.exit_at_s <= self.clock.monotonic():
            self._finish_exit(task)

    def _finish_exit(self, task: Task) -> None:
        self._exiting.discard(task.sid)
        task.phase, task.ended_at_ms = Phase.EXITED, self._now_ms()
        if task.has_data():
            self.emit.uploaded(task)
        self.emit.session_exit(task, 0)

    def _die(self, task: Task, reason: ExitReason, leave_reason: int = LEAVE_REASON_NORMAL) -> None:
        """The task ends abnormally: recorder leaves, NCS 41 (or 71) then 11 exitStatus 1."""
        if task.phase is Phase.EXITED:
            return
        was_running = task.phase is Phase.RUNNING
        self._running.discard(task.sid)
        self._exiting.discard(task.sid)
        task.phase, task.exit_reason, task.ended_at_ms = Phase.EXITED, reason, self._now_ms()
        if was_running and task.mode is Mode.WEB:
            self.emit.web_stopped(task, 6, "recorder_error")
        elif was_running:
            self._recorder_leave(task, leave_reason)
            self.emit.recorder_left(task, LEAVE_CODE_INIT)
        self.emit.session_exit(task, 1)

    def tick(self) -> None:
        """Fire every timer that is due: idle exits, token expiry, web end, exit phases."""
        now_s = self.clock.monotonic()
        for sid in sorted(self._running, key=lambda s: self.tasks[s].started_at_s):
            task = self.tasks[sid]
            if task.mode is Mode.WEB:
                end_s = task.started_at_s + self.config.agora_s(task.spec.max_recording_hour * 3600)
                if end_s <= now_s:
                    self._begin_exit(task, ExitReason.MAX_RECORDING_HOUR, end_s, LEAVE_CODE_SIG)
                continue
            expiry = task.token_valid_until_unix_s
            if expiry is not None and self.clock.time() >= expiry:
                self._die(task, ExitReason.TOKEN_EXPIRED, LEAVE_REASON_TOKEN)
                continue
            if task.idle_since_s is not None:
                deadline_s = task.idle_since_s + self.config.agora_s(task.spec.max_idle_s)
                if deadline_s <= now_s:
                    self._begin_exit(task, ExitReason.IDLE, deadline_s, LEAVE_CODE_NO_USERS)
        for sid in list(self._exiting):
            task = self.tasks[sid]
            if task.exit_at_s is not None and task.exit_at_s <= now_s:
                self._finish_exit(task)

    # --- recordings (admin) ---------------------------------------------------------------

    def running_task(self, sid: str) -> Task:
        """A running task by sid, or ChannelError 404."""
        task = self.tasks.get(sid)
        if task is None or task.phase is not Phase.RUNNING:
            raise ChannelError(404, f"no running recording with sid {sid!r}")
        return task

    def kill(self, sid: str) -> None:
        """The task dies (query → 404; NCS 41 + 11 exitStatus 1)."""
        self._die(self.running_task(sid), ExitReason.KILLED, LEAVE_REASON_SERVER)

    def mark_backup(self, sid: str) -> None:
        """The task's files go to Agora Cloud Backup: stop says `backuped`, NCS 32 replaces 31."""
        self.running_task(sid).backup_upload = True

    def failover(self, sid: str, not_found_s: float = 0.0) -> int:
        """High-availability failover: NCS 12 with a new random uid; the recorder rejoins under
        it, later files get a `bak<n>_` prefix, and the task answers 404 for `not_found_s`
        clock seconds. A fourth failover ends the task. Returns the new uid."""
        task = self.running_task(sid)
        task.failovers += 1
        if task.failovers > MAX_FAILOVERS:
            self._die(task, ExitReason.FAILOVER_LIMIT, LEAVE_REASON_SERVER)
            return task.recorder_uid
        channel = self.channels.get(task.cname)
        taken = set() if channel is None else set(channel.members)
        new_uid = self.rng.randint(1, UID_MAX)
        while new_uid in taken:
            new_uid = self.rng.randint(1, UID_MAX)
        self.emit.failover(task, new_uid)
        if task.mode is not Mode.WEB:
            self._recorder_leave(task, LEAVE_REASON_SERVER)
            task.recorder_uid = new_uid
            self._recorder_join(task)
        task.recorder_uid = new_uid
        task.unavailable_until_s = self.clock.monotonic() + not_found_s
        return new_uid
