"""What the controller does about a failed acquire or start: one function per `Reaction`
(worker/controller/failures.py classifies the failure), gathered in `REACTIONS`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Final

from worker import keys
from worker.agora import AgoraError
from worker.controller.effects import Effects
from worker.controller.failures import Reaction, error_text
from worker.controller.metrics import Drift
from worker.controller.start_request import recording_mode
from worker.controller.step import Step
from worker.controller.steps_common import transient
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: Carries out one kind of reaction to a failed acquire or start; True: decide again.
ReactionStep = Callable[[Effects, Step, Session, Exception], Awaitable[bool]]


def _reacquire(session: Session, retry_due_ms: int | None, exc: Exception) -> Session:
    return replace(
        session,
        state=SessionState.ACQUIRING,
        resource_id=None,
        resource_ms=None,
        start_attempts=0,
        retry_due_ms=retry_due_ms,
        last_error=error_text(exc),
    )


async def _start_uncertain(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    _log_uncertain(session, exc)
    await fx.save(replace(session, last_error=error_text(exc)), session)
    return True


async def _start_uncertain_again(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    _log_uncertain(session, exc)
    return await transient(fx, step, session, exc)


def _log_uncertain(session: Session, exc: Exception) -> None:
    logger.warning(
        "channel=%r uid=%d: start outcome unknown (%s); retrying on the same resource",
        session.channel,
        session.uid,
        error_text(exc),
    )


async def _probe_conflict(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    return await _probe_answered(fx, step, session, "53 (task conflict)")


async def _probe_failed(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    return await _probe_answered(fx, step, session, error_text(exc))


async def _probe_answered(fx: Effects, step: Step, session: Session, why: str) -> bool:
    """A probe could not start a new task: back to waiting for the first one's sid."""
    retry_at = step.now_ms + fx.deps.config.sid_probe_ms
    logger.info(
        "channel=%r uid=%d: probe answered %s; the earlier task counts as running",
        session.channel,
        session.uid,
        why,
    )
    restored = replace(
        session,
        state=SessionState.SID_UNKNOWN,
        resource_id=session.probe_of,
        probe_of=None,
        start_attempts=1,
        retry_due_ms=retry_at,
        last_error=why,
    )
    await fx.save(restored, session)
    await fx.wake(step.channel, retry_at, state=step.state, now_ms=step.now_ms)
    return False


async def _wait_for_capacity(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    # Agora's own concurrency limit: give the slot back, wait first in line (design §7).
    logger.warning(
        "channel=%r: Agora has no capacity (%s); waiting at the head of the queue",
        session.channel,
        error_text(exc),
    )
    await fx.deps.sessions.delete(session.channel)
    await fx.deps.slots.requeue_front(session.channel)
    retry_ms = fx.deps.config.no_capacity_retry_ms
    await fx.wake(step.channel, step.now_ms + retry_ms, state=step.state, now_ms=step.now_ms)
    return False


async def _reacquire_later(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    retry_ms = fx.deps.config.no_capacity_retry_ms
    logger.warning("channel=%r: start found no capacity (%s)", session.channel, exc)
    await fx.save(_reacquire(session, step.now_ms + retry_ms, exc), session)
    await fx.wake(step.channel, step.now_ms + retry_ms, state=step.state, now_ms=step.now_ms)
    return False


async def _reacquire_now(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    logger.info("channel=%r: resource unusable (%s); acquiring anew", session.channel, exc)
    await fx.save(_reacquire(session, None, exc), session)
    return True


async def _failed(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    await fx.start_failed(session, error_text(exc), step.now_ms)
    return False


async def _conflict(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    """start 400/53: a task with this (cname, uid) runs. Adopt it if recording event 40
    told its sid (and one of our resources answers for it); else it counts as this
    session's task of unknown sid (it keeps the slot, nothing else starts in the channel):
    a second recorder under the other uid would record the channel twice."""
    sighted = await fx.deps.redis.hget(keys.recorder_sightings(session.channel), str(session.uid))
    if sighted is not None:
        sid = sighted.decode()
        for resource_id in reversed(session.resource_ids):
            try:
                await fx.deps.agora.query(
                    resource_id=resource_id, sid=sid, mode=recording_mode(step.policy)
                )
            except (AgoraError, RateLimitTimeout):
                continue
            logger.info(
                "channel=%r uid=%d: start conflict (53); adopting the running task sid=%s",
                session.channel,
                session.uid,
                sid,
            )
            adopted = replace(
                session,
                state=SessionState.STARTED,
                resource_id=resource_id,
                sid=sid,
                started_ms=step.now_ms,
                check_due_ms=step.now_ms,
            )
            await fx.save(adopted, session)
            return True
    logger.warning(
        "channel=%r uid=%d: start conflict (53) with a task of unknown sid; it counts as this "
        "channel's recording until event 40 names it or it is proven gone",
        session.channel,
        session.uid,
    )
    fx.deps.metrics.drift(Drift.ORPHAN_RECORDING)
    # The task runs on a resource we do not know, so no sid (event 40) can be adopted for
    # it: with no resource the session waits, probes, or ends at Agora's idle exit.
    unknown = replace(
        session,
        state=SessionState.SID_UNKNOWN,
        resource_id=None,
        started_ms=step.now_ms,
        retry_due_ms=None,
        last_error=error_text(exc),
    )
    await fx.save(unknown, session)
    return True


#: Each kind of reaction, carried out.
REACTIONS: Final[Mapping[Reaction, ReactionStep]] = {
    Reaction.RETRY_LATER: transient,
    Reaction.START_UNCERTAIN: _start_uncertain,
    Reaction.START_UNCERTAIN_AGAIN: _start_uncertain_again,
    Reaction.CONFLICT: _conflict,
    Reaction.PROBE_CONFLICT: _probe_conflict,
    Reaction.PROBE_ANSWERED: _probe_failed,
    Reaction.WAIT_FOR_CAPACITY: _wait_for_capacity,
    Reaction.REACQUIRE_LATER: _reacquire_later,
    Reaction.REACQUIRE: _reacquire_now,
    Reaction.FAILED: _failed,
}
