"""The per-channel reconcile: decide, act, persist, decide again — under the channel's lock.

`Controller.reconcile(channel)` reads the channel's desired state, its session and Redis
time, asks `worker.controller.decide.decide` for the next action, performs it (the Agora calls live in
`worker.controller.perform`) and loops until the answer is to wait or that nothing is to be
done. Each iteration re-reads the channel, so a change of desired state (a newer `gen`) that
arrived meanwhile is acted upon before the job ends. Waits are deferred wake-ups
(`Controller.wake`), never sleeps.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final

from worker import keys
from worker.controller.decide import Action, Facts, decide
from worker.controller.deps import ControllerDeps
from worker.controller.metrics import Drift
from worker.controller.perform import perform
from worker.controller.recorder_uids import BACKUP, PRIMARY
from worker.events import Role
from worker.policies import Mode, Policy
from worker.state.channel_lock import channel_lock
from worker.state.channel_state import (
    ChannelState,
    parse_channel_state,
    read_channel_state,
    read_members,
)
from worker.state.history import Failure, HistoryEntry
from worker.state.reconcile_queue import enqueue_reconcile, reconcile_job_id
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: The arq job id of the reconcile running in this task (set by the job function).
CURRENT_JOB_ID: ContextVar[str | None] = ContextVar("autorec_current_job_id", default=None)
#: Decisions one job makes at most (a start is about five); the rest is a deferred wake-up.
MAX_STEPS: Final = 12
#: Permits in the rate limiter's current window, and how far ahead the last one lies (µs).
_API_LOAD: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = redis.call('ZCOUNT', KEYS[1], string.format('%d', now - tonumber(ARGV[1])), '+inf')
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ahead = 0
if last[2] then ahead = tonumber(last[2]) - now end
return {n, string.format('%d', ahead)}
"""
#: History outcomes after which the next session alternates the recorder uid.
_FAILURE_OUTCOMES: Final = frozenset({"died", "exited", "sid_unknown", "start_failed"})
#: Outcomes of a recording that ended at Agora without our stop.
_GONE_OUTCOMES: Final = frozenset({"died", "exited"})


@dataclass
class Step:
    """What one decision saw and did."""

    channel: str
    now_ms: int
    state: ChannelState | None
    session: Session | None
    policy: Policy
    action: Action


@dataclass
class Report:
    """What a reconcile did: the actions in order; `final` is the last one."""

    channel: str
    actions: list[Action] = field(default_factory=list)

    @property
    def final(self) -> Action | None:
        """The decision the reconcile ended with."""
        return self.actions[-1] if self.actions else None

    def summary(self) -> str:
        """`take_slot,acquire,start,...` for the job result and logs."""
        return ",".join(action.do.value for action in self.actions)


class Controller:
    """Moves channels' recordings toward their desired state (see the module docstring)."""

    def __init__(self, deps: ControllerDeps) -> None:
        self.deps = deps

    # --- the loop --------------------------------------------------------------------------

    async def reconcile(self, channel: str, *, lock_wait_s: float = 0.0) -> Report:
        """Reconcile one channel; raises ChannelBusy if another job holds its lock."""
        report = Report(channel)
        async with channel_lock(
            self.deps.redis, channel, ttl_ms=self.deps.config.lock_ttl_ms, wait_s=lock_wait_s
        ):
            for _ in range(MAX_STEPS):
                step = await self.observe(channel)
                report.actions.append(step.action)
                self._log(step)
                if not await perform(self, step):
                    return report
            step = await self.observe(channel)
            await self.wake(channel, step.now_ms, state=step.state)
        return report

    async def now_ms(self) -> int:
        """Redis server time in ms (the clock of every stored time)."""
        seconds, micros = await self.deps.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def observe(self, channel: str) -> Step:
        """Read everything `decide` needs (one round trip) and decide."""
        async with self.deps.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hgetall(keys.channel(channel))
            pipe.hgetall(keys.session(channel))
            pipe.pttl(keys.start_backoff(channel))
            (seconds, micros), channel_raw, session_raw, backoff_ms = await pipe.execute()
        now = int(seconds) * 1000 + int(micros) // 1000
        state = parse_channel_state(channel_raw)
        session = (
            Session.from_fields(channel, session_raw)
            if session_raw and b"state" in session_raw
            else None
        )
        policy = self.deps.policies.match(channel)
        facts = Facts(
            now_ms=now,
            desired=state is not None and state.desired,
            empty_since_ms=state.empty_since_ms if state is not None else None,
            session=session,
            grace_ms=int(policy.grace_s * 1000),
            max_duration_ms=policy.max_duration_s * 1000,
            max_idle_ms=(
                policy.max_idle_s * 1000
                if policy.max_idle_s is not None and policy.mode is not Mode.WEB
                else None
            ),
            backoff_until_ms=now + backoff_ms if backoff_ms > 0 else None,
            sid_unknown_margin_ms=self.deps.config.sid_unknown_margin_ms,
            sid_probe_ms=self.deps.config.sid_probe_ms,
        )
        return Step(channel, now, state, session, policy, decide(facts))

    def _log(self, step: Step) -> None:
        session = step.session
        logger.info(
            "reconcile channel=%r action=%s reason=%r state=%s uid=%s sid=%s desired=%s gen=%s",
            step.channel,
            step.action.do.value,
            step.action.reason,
            session.state.value if session else "-",
            session.uid if session else "-",
            session.sid if session and session.sid else "-",
            step.state.desired if step.state else False,
            step.state.gen if step.state else 0,
        )

    # --- shared helpers for the steps ------------------------------------------------------

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
            self.deps.arq, channel, gen, defer_s=(due_ms - now) / 1000, tag=f"t{due_ms}"
        )

    async def wake_all(self, channels: list[str], now_ms: int) -> None:
        """Wake channels admitted by a freed slot."""
        for channel in channels:
            logger.info("channel=%r: a slot is free; waking its reconcile", channel)
            await self.wake(channel, now_ms, now_ms=now_ms)

    async def save(self, session: Session, previous: Session | None) -> Session:
        """Persist a session change and return the new session."""
        await self.deps.sessions.save(session, previous)
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
        limiter = self.deps.limiter
        in_window, ahead_us = await self.deps.redis.eval(  # type: ignore[no-untyped-call]
            _API_LOAD, 1, keys.RATE_LIMIT, limiter.interval_ms * 1000
        )
        return int(ahead_us) <= 0 and int(in_window) < max(1, limiter.permits_per_window // 2)

    async def observed_live(self, channel: str) -> bool:
        """Whether the channel's events show the live profile (hosts or audience)."""
        roles = {member.role for member in (await read_members(self.deps.redis, channel)).values()}
        return Role.COMMUNICATION not in roles and bool(roles & {Role.HOST, Role.AUDIENCE})

    async def finish(
        self,
        session: Session,
        outcome: str,
        now_ms: int,
        *,
        files: tuple[str, ...] | None = None,
        uploading_status: str | None = None,
    ) -> None:
        """The recording has ended (or never started): history, forget the session, free
        the slot, wake the channels now admitted. `files` and `uploading_status` (from the
        stop answer) replace the session's when given."""
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
            files=files if files is not None else session.files,
            uploading_status=uploading_status or session.uploading_status,
            leave_code=session.leave_code,
            exit_status=session.exit_status,
            failover_uid=session.failover_uid,
            last_error=session.last_error,
        )
        if outcome != "cancelled":
            await self.deps.history.append(entry)
        self._count_end(outcome)
        await self.deps.sessions.delete(session.channel)
        logger.info(
            "recording ended channel=%r uid=%d sid=%s outcome=%s",
            session.channel,
            session.uid,
            session.sid or "-",
            outcome,
        )
        if outcome in _FAILURE_OUTCOMES:
            await self.deps.history.record_failure(
                Failure(
                    channel=session.channel,
                    at_ms=now_ms,
                    what=outcome,
                    error=session.last_error or outcome,
                )
            )
        await self.wake_all(await self.deps.slots.release(session.channel), now_ms)

    def _count_end(self, outcome: str) -> None:
        metrics = self.deps.metrics
        if outcome == "start_failed":
            metrics.recordings_failed.inc()
        elif outcome != "cancelled":
            metrics.recordings_stopped.labels(outcome=outcome).inc()
        if outcome in _GONE_OUTCOMES:
            metrics.drift(Drift.MISSING_RECORDING)

    async def start_failed(self, session: Session, error: str, now_ms: int) -> None:
        """A start failed for good: record it, free the slot, back off before the next."""
        failed = session.evolve(last_error=error)
        backoff_ms = self.deps.config.failure_backoff_ms
        await self.deps.redis.set(keys.start_backoff(session.channel), "1", px=backoff_ms)
        await self.finish(failed, "start_failed", now_ms)
        await self.wake(session.channel, now_ms + backoff_ms, now_ms=now_ms)

    def new_session(self, channel: str, policy: Policy, uid_index: int, now_ms: int) -> Session:
        """A session that holds a slot and is about to acquire."""
        uids = self.deps.config.uids(channel)
        return Session(
            channel=channel,
            state=SessionState.ACQUIRING,
            uid=uids.uid(uid_index),
            uid_index=uid_index,
            mode=policy.mode.value,
            policy=policy.label,
            created_ms=now_ms,
        )
