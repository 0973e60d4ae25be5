"""What the controller tells the app, and when (design §4 "Outgoing notifications").

`Notifier` turns a state change into notifications written in the same transaction as the
change (`staged_*` return a callback for the store's transaction):

- `recording.started`: a start answered with a sid (saved with the session);
- `recording.stopped` / `recording.failed`: the recording's history entry is appended (a
  stop; a start refused for good or a task that died, with Agora's status and code);
- `recording.uploaded` / `recording.backuped`: the files are complete, from the stop answer
  or recording events 31/32; once per recording (a guard key), whichever comes first;
- `recording.waiting`: the channel joined the queue for a slot; once per wait.

Notifications of one recording share its key (channel and when its session began), so they
are delivered in the order written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from redis.asyncio.client import Pipeline

from worker.notify.payload import notification_body
from worker.policies import Policy
from worker.state.history import HistoryEntry, Outcome
from worker.state.outbox import NotificationType, Outbox
from worker.state.sessions import Session
from worker.state.views import RecordingView, history_view, session_view

_UPLOADS: Final = {
    "uploaded": NotificationType.UPLOADED,
    "backuped": NotificationType.BACKUPED,
}
_STOPPED: Final = frozenset(
    {Outcome.STOPPED, Outcome.NO_RECORDED_DATA, Outcome.ALREADY_STOPPING, Outcome.NOT_FOUND}
)

Stage = Callable[["Pipeline[bytes]"], object]


def recording_key(channel: str, created_ms: int) -> str:
    """What orders one recording's notifications: its channel and session."""
    return f"{channel}:{created_ms}"


def upload_guard(recording_id: str) -> str:
    """Guard of the once-only upload notification of a recording."""
    return f"upload:{recording_id}"


class Notifier:
    """Stages notifications into the outbox."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def _stage(
        self,
        pipe: Pipeline[bytes],
        kind: NotificationType,
        view: RecordingView,
        *,
        key: str,
        now_ms: int,
        guard: str | None = None,
    ) -> None:
        body = notification_body(kind, view, now_ms)
        self.outbox.stage(pipe, kind, body, recording=key, now_ms=now_ms, guard=guard)

    def staged_started(self, session: Session, now_ms: int) -> Stage:
        """`recording.started` for a session whose start Agora answered with a sid."""

        def stage(pipe: Pipeline[bytes]) -> None:
            self._stage(
                pipe,
                NotificationType.STARTED,
                session_view(session, now_ms),
                key=recording_key(session.channel, session.created_ms),
                now_ms=now_ms,
            )

        return stage

    def staged_end(self, entry: HistoryEntry, now_ms: int) -> Stage | None:
        """`recording.stopped` or `recording.failed`, and the upload notification when the
        stop answer said the files are complete; None for a start that was never sent."""
        if entry.outcome is Outcome.CANCELLED:
            return None
        view = history_view(entry)
        key = recording_key(entry.channel, entry.created_ms)
        kind = NotificationType.STOPPED if entry.outcome in _STOPPED else NotificationType.FAILED
        upload = _UPLOADS.get(entry.uploading_status or "")

        def stage(pipe: Pipeline[bytes]) -> None:
            self._stage(pipe, kind, view, key=key, now_ms=now_ms)
            if upload is not None:
                self._stage(pipe, upload, view, key=key, now_ms=now_ms, guard=upload_guard(view.id))

        return stage

    async def uploaded(self, entry: HistoryEntry, now_ms: int) -> bool:
        """The upload notification of a finished recording whose files were reported after
        its end (recording events 31/32); False if it was sent already or the status is not
        a final one."""
        kind = _UPLOADS.get(entry.uploading_status or "")
        if kind is None:
            return False
        view = history_view(entry)
        body = notification_body(kind, view, now_ms)
        written = await self.outbox.append(
            kind,
            body,
            recording=recording_key(entry.channel, entry.created_ms),
            now_ms=now_ms,
            guard=upload_guard(view.id),
        )
        return written is not None

    async def waiting(
        self, channel: str, policy: Policy, position: int | None, now_ms: int
    ) -> bool:
        """`recording.waiting` for a channel that joined the queue (once per wait: the guard
        is cleared when the channel gets its slot)."""
        view = RecordingView(
            id=f"w{now_ms}-{channel}",
            channel=channel,
            sid=None,
            resource_id=None,
            recorder_uid=0,
            mode=policy.mode.value,
            streams=policy.streams.value,
            started_at=None,
            stopped_at=None,
            duration_s=None,
            state="waiting",
            outcome=None,
            stop_reason=None,
            error=None,
            upload_status=None,
            files=[],
            logical_id=f"w{now_ms}-{channel}",
        )
        body = notification_body(NotificationType.WAITING, view, now_ms)
        written = await self.outbox.append(
            NotificationType.WAITING,
            body,
            recording=f"{channel}:waiting",
            now_ms=now_ms,
            guard=waiting_guard(channel),
        )
        return written is not None


def waiting_guard(channel: str) -> str:
    """Guard of a channel's `recording.waiting` (cleared when it gets a slot)."""
    return f"waiting:{channel}"
