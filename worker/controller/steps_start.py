"""Opening a recording: slot, acquire, start — and Agora's answers on the way (design §7):
no capacity, conflicts (53), unusable resources, uncertain starts, probes.

A failed acquire or start is classified by worker/controller/failures.py; `REACTIONS` carries
out each kind of reaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from worker import keys
from worker.agora import AgoraError
from worker.controller.effects import Effects
from worker.controller.failures import (
    ACQUIRE_ERRORS,
    START_ERRORS,
    Reaction,
    acquire_reaction,
    error_text,
    start_reaction,
)
from worker.controller.metrics import Drift
from worker.controller.start_request import (
    acquire_request,
    recorder_token,
    recording_mode,
    start_request,
)
from worker.controller.step import Step
from worker.controller.steps_common import transient
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: Carries out one kind of reaction to a failed acquire or start; True: decide again.
ReactionStep = Callable[[Effects, Step, Session, Exception], Awaitable[bool]]


async def take_slot(fx: Effects, step: Step) -> bool:
    """Take a recording slot (or wait in line for one) and open a session on it."""
    admission = await fx.deps.slots.acquire(step.channel)
    if not admission.holds_slot:
        logger.info(
            "channel=%r: no free recording slot; waiting at position %s",
            step.channel,
            admission.position,
        )
        return False
    uid_index = await fx.next_uid_index(step.channel, step.now_ms)
    session = fx.new_session(step.channel, step.policy, uid_index, step.now_ms)
    await fx.save(session, None)
    return True


async def acquire_step(fx: Effects, step: Step, session: Session) -> bool:
    """Acquire a resource for the session's recorder uid."""
    try:
        answer = await fx.deps.agora.acquire(
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
            client_request=acquire_request(),
        )
    except ACQUIRE_ERRORS as exc:
        reaction = acquire_reaction(exc, probing=session.probe_of is not None)
        return await REACTIONS[reaction](fx, step, session, exc)
    logger.info(
        "channel=%r uid=%d: acquired resource %s…",
        session.channel,
        session.uid,
        answer.resource_id[:12],
    )
    acquired = replace(
        session,
        state=SessionState.STARTING,
        resource_id=answer.resource_id,
        resource_ms=step.now_ms,
        resource_ids=(*session.resource_ids, answer.resource_id)[-4:],
        start_attempts=0,
        retry_due_ms=None,
    )
    await fx.save(acquired, session)
    return True


async def start_step(fx: Effects, step: Step, session: Session) -> bool:
    """Start the recording on the session's resource (noted as attempted before the call)."""
    assert session.resource_id is not None
    config = fx.deps.config
    policy = step.policy
    attempting = await fx.save(
        replace(session, start_attempts=session.start_attempts + 1, retry_due_ms=None), session
    )
    try:
        request = start_request(
            policy,
            channel=session.channel,
            storage=config.storage,
            token=recorder_token(
                config.app_id, config.app_certificate, session.channel, session.uid, policy
            ),
            observed_live=await fx.observed_live(session.channel),
            started_at=datetime.fromtimestamp(step.now_ms / 1000, UTC),
        )
        result = await fx.deps.agora.start(
            resource_id=session.resource_id,
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(policy),
            client_request=request,
            retry_same_resource=step.action.retry_same_resource,
        )
    except START_ERRORS as exc:
        reaction = start_reaction(
            exc,
            retry_same_resource=step.action.retry_same_resource,
            probing=attempting.probe_of is not None,
        )
        return await REACTIONS[reaction](fx, step, attempting, exc)
    now = step.now_ms
    if result.sid is None:
        logger.info(
            "channel=%r uid=%d: start answered 'already started' without a sid; "
            "waiting for recording event 40",
            session.channel,
            session.uid,
        )
        await fx.save(
            replace(attempting, state=SessionState.SID_UNKNOWN, started_ms=now, probe_of=None),
            attempting,
        )
        return True
    logger.info(
        "recording started channel=%r uid=%d sid=%s already_started=%s",
        session.channel,
        session.uid,
        result.sid,
        result.already_started,
    )
    started = replace(
        attempting,
        state=SessionState.STARTED,
        sid=result.sid,
        started_ms=now,
        check_due_ms=now + config.confirm_delay_ms,
        last_error=None,
        probe_of=None,
    )
    await fx.save(started, attempting)
    return True


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
    told its sid (and one of our resources answers for it), else use the other uid."""
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
    uids = fx.deps.config.uids(session.channel)
    other = 1 - session.uid_index
    logger.warning(
        "channel=%r uid=%d: start conflict (53) with a task of unknown sid; switching to uid %d",
        session.channel,
        session.uid,
        uids.uid(other),
    )
    fx.deps.metrics.drift(Drift.ORPHAN_RECORDING)
    switched = replace(_reacquire(session, None, exc), uid=uids.uid(other), uid_index=other)
    await fx.save(switched, session)
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
