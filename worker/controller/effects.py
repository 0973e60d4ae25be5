"""What the controller does besides calling Agora: the clock, wake-ups, session saves, the
end of a recording (history, slot release) — `Effects`, holding the `ControllerDeps`.

The steps (worker/controller/steps_start.py, worker/controller/steps_check.py), the periodic
pass (worker/controller/sweep.py) and the recording events
(worker/controller/recording_events.py) act through it; none of them needs the reconcile loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, Final

import orjson

from worker import keys
from worker.controller.deps import ControllerConfig, ControllerDeps
from worker.controller.failures import StepFailure
from worker.controller.metrics import Drift
from worker.controller.recorder_uids import BACKUP, PRIMARY
from worker.events import Role
from worker.policies import Policy
from worker.state.channel_state import ChannelState, read_channel_state, read_members
from worker.state.files import RecordingFile, merge_files
from worker.state.history import (
    MAX_DURATION_STOP_REASON,
    Failure,
    HistoryEntry,
    Outcome,
    failure_reason,
    recording_id_of,
)
from worker.state.reconcile_queue import enqueue_reconcile, reconcile_job_id
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: The arq job id of the reconcile running in this task (set by the job function).
CURRENT_JOB_ID: ContextVar[str | None] = ContextVar("autorec_current_job_id", default=None)
#: The failed Agora calls of the reconcile running in this task (set by the job function, so
#: that a job whose Agora step failed ends as a failed arq job).
JOB_FAILURES: ContextVar[list[StepFailure] | None] = ContextVar(
    "autorec_job_failures", default=None
)
#: History outcomes after which the next session alternates the recorder uid.
_FAILURE_OUTCOMES: Final = frozenset(
    {Outcome.DIED, Outcome.EXITED, Outcome.SID_UNKNOWN, Outcome.START_FAILED}
)
#: Outcomes of a recording that ended at Agora without our stop.
_GONE_OUTCOMES: Final = frozenset({Outcome.DIED, Outcome.EXITED})


class Effects:
    """The controller's actions on Redis and its own bookkeeping (see the module docstring)."""

    def __init__(self, deps: ControllerDeps) -> None:
        self.deps = deps

    @staticmethod
    def note_failure(action: str, exc: BaseException) -> None:
        """Remember that an Agora call of this job's step `action` failed."""
        failures = JOB_FAILURES.get()
        if failures is not None:
            failures.append(StepFailure.of(action, exc))

    async def now_ms(self) -> int:
        """Redis server time in ms (the clock of every stored time)."""
        seconds, micros = await self.deps.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def wake(
        self, channel: str, due_ms: int, *, state: ChannelState | None = None, now_ms: int = 0
    ) -> None:
        """Enqueue a reconcile of `channel` due at `due_ms` (Redis time)."""
        if state is None:
            state = await read_channel_state(self.deps.redis, channel)
        gen = state.gen if state is not None else 0
        now = now_ms or await self.now_ms()
        due_ms = max(due_ms, now)
        # Round up to 50 ms so that wake-ups of one instant share a job id, but never take
        # the id of the job running now (arq would drop the enqueue as a duplicate).
        due_ms = -(-due_ms // 50) * 50
        if reconcile_job_id(channel, gen, f"t{due_ms}") == CURRENT_JOB_ID.get():
            due_ms += 50
        await enqueue_reconcile(
            self.deps.redis, channel, gen, defer_s=(due_ms - now) / 1000, tag=f"t{due_ms}"
        )

    async def wake_all(self, channels: list[str], now_ms: int) -> None:
        """Wake channels admitted by a freed slot."""
        for channel in channels:
            logger.info("channel=%r: a slot is free; waking its reconcile", channel)
            await self.wake(channel, now_ms, now_ms=now_ms)

    async def save(self, session: Session, previous: Session | None) -> Session:
        """Persist a session change and return the new session; a session that learns its
        sid tells the app (`recording.started`, in the same transaction)."""
        also = None
        if session.sid is not None and (previous is None or previous.sid is None):
            also = self.deps.notifier.staged_started(session, await self.now_ms())
        await self.deps.sessions.save(session, previous, also=also)
        if session.state is SessionState.STARTED and (
            previous is None or previous.state is not SessionState.STARTED
        ):
            self.deps.metrics.recordings_started.inc()
        return session

    async def next_uid_index(self, channel: str, now_ms: int) -> int:
        """The recorder uid a new session uses: the other one shortly after a session
        that may have left its recorder in the channel (Agora: alternate on restart)."""
        last = await self.deps.history.last(channel)
        if last is None or now_ms - last.ended_ms > self.deps.config.alternate_uid_window_ms:
            return PRIMARY
        if last.outcome in _FAILURE_OUTCOMES or now_ms - last.ended_ms < 60_000:
            return BACKUP if last.uid_index == PRIMARY else PRIMARY
        return PRIMARY

    async def spare_api_capacity(self) -> bool:
        """Whether a request that can wait (a check, a user list) may go now: nobody is
        queued at the shared rate limiter and the current window is less than half used,
        so starts and stops always find a permit quickly."""
        return await self.deps.limiter.has_spare_capacity()

    async def observed_live(self, channel: str) -> bool:
        """Whether the channel's events show the live profile (hosts or audience)."""
        roles = {member.role for member in (await read_members(self.deps.redis, channel)).values()}
        return Role.COMMUNICATION not in roles and bool(roles & {Role.HOST, Role.AUDIENCE})

    async def finish(
        self,
        session: Session,
        outcome: Outcome,
        now_ms: int,
        *,
        files: tuple[RecordingFile, ...] = (),
        uploading_status: str | None = None,
    ) -> None:
        """The recording has ended (or never started): history, forget the session, free
        the slot, wake the channels now admitted. `files` (from the stop answer) merge into
        the session's by filename; `uploading_status` replaces the session's when given."""
        session = await self._with_reported_facts(session)
        entry = HistoryEntry(
            channel=session.channel,
            outcome=outcome,
            uid=session.uid,
            uid_index=session.uid_index,
            mode=session.mode,
            policy=session.policy,
            created_ms=session.created_ms,
            ended_ms=now_ms,
            resource_id=session.resource_id,
            sid=session.sid,
            started_ms=session.started_ms,
            stop_reason=session.stop_reason,
            files=merge_files(session.files, files),
            uploading_status=uploading_status or session.uploading_status,
            leave_code=session.leave_code,
            exit_status=session.exit_status,
            failover_uid=session.failover_uid,
            last_error=session.last_error,
            streams=session.streams,
            segment=session.segment,
            logical_id=session.logical_id or recording_id_of(session),
        )
        if outcome is not Outcome.CANCELLED:
            await self.deps.history.append(entry, also=self.deps.notifier.staged_end(entry, now_ms))
        self._count_end(outcome)
        await self.deps.sessions.delete(session.channel)
        logger.info(
            "recording ended channel=%r uid=%d sid=%s outcome=%s",
            session.channel,
            session.uid,
            session.sid or "-",
            outcome.value,
        )
        if outcome in _FAILURE_OUTCOMES:
            await self.deps.history.record_failure(
                Failure(
                    channel=session.channel,
                    at_ms=now_ms,
                    what=outcome.value,
                    error=failure_reason(
                        outcome,
                        last_error=session.last_error,
                        exit_status=session.exit_status,
                        leave_code=session.leave_code,
                    ),
                )
            )
        await self.wake_all(await self.deps.slots.release(session.channel), now_ms)

    async def _with_reported_facts(self, session: Session) -> Session:
        """`session` with the facts recording events stored on it meanwhile: a synchronous
        stop answers only once the uploads are done, so events 31/32 (files with every
        detail) often arrive while it is in flight."""
        stored = await self.deps.sessions.get(session.channel)
        if stored is None or stored.created_ms != session.created_ms:
            return session
        return replace(
            session,
            files=merge_files(session.files, stored.files),
            uploading_status=stored.uploading_status or session.uploading_status,
            leave_code=_first(stored.leave_code, session.leave_code),
            exit_status=_first(stored.exit_status, session.exit_status),
            failover_uid=_first(stored.failover_uid, session.failover_uid),
        )

    def _count_end(self, outcome: Outcome) -> None:
        metrics = self.deps.metrics
        if outcome is Outcome.START_FAILED:
            metrics.recordings_failed.inc()
        elif outcome is not Outcome.CANCELLED:
            metrics.recordings_stopped.labels(outcome=outcome.value).inc()
        if outcome in _GONE_OUTCOMES:
            metrics.drift(Drift.MISSING_RECORDING)

    async def start_failed(self, session: Session, error: str, now_ms: int) -> None:
        """A start failed for good: record it, free the slot, back off before the next."""
        failed = replace(session, last_error=error)
        backoff_ms = self.deps.config.failure_backoff_ms
        await self.deps.redis.set(keys.start_backoff(session.channel), "1", px=backoff_ms)
        await self.finish(failed, Outcome.START_FAILED, now_ms)
        await self.wake(session.channel, now_ms + backoff_ms, now_ms=now_ms)

    async def new_session(
        self,
        channel: str,
        policy: Policy,
        uid_index: int,
        now_ms: int,
        overlay: Mapping[str, Any] | None = None,
    ) -> Session:
        """A session that holds a slot and is about to acquire (`overlay`: a manual
        override's per-recording policy fields, kept for the session's lifetime); the next
        segment of the channel's last recording when that one stopped for `max_duration_s`
        shortly before (`segment_window_ms`), else the first segment of a new one."""
        uids = self.deps.config.uids(channel)
        segment, logical_id = 1, None
        last = await self.deps.history.last(channel)
        if last is not None and _continued_by_a_start_at(last, now_ms, self.deps.config):
            # A continuation whose start failed leaves its place to this one.
            failed = last.outcome is Outcome.START_FAILED
            segment, logical_id = last.segment + (0 if failed else 1), last.logical
        return Session(
            channel=channel,
            state=SessionState.ACQUIRING,
            uid=uids.uid(uid_index),
            uid_index=uid_index,
            mode=policy.mode,
            policy=policy.label if not overlay else f"{policy.label} + manual override",
            created_ms=now_ms,
            streams=policy.streams.value,
            overlay=orjson.dumps(dict(overlay)).decode() if overlay else None,
            segment=segment,
            logical_id=logical_id,
        )


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _continued_by_a_start_at(last: HistoryEntry, now_ms: int, config: ControllerConfig) -> bool:
    """Whether a recording starting at `now_ms` continues the channel's `last` one: it was
    stopped for `max_duration_s` (or it was such a continuation whose start failed, whose
    place the new one takes) within `segment_window_ms` before."""
    if now_ms - last.ended_ms > config.segment_window_ms:
        return False
    if last.outcome is Outcome.START_FAILED:
        return last.segment > 1
    return last.stop_reason == MAX_DURATION_STOP_REASON
