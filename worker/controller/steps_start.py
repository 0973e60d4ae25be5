"""Opening a recording: slot, acquire, start — and Agora's answers on the way (design §7):
no capacity, conflicts (53), unusable resources, uncertain starts, probes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from worker import keys
from worker.agora import (
    AgoraConflict,
    AgoraError,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraStartUncertain,
)
from worker.controller.metrics import Drift
from worker.controller.start_request import (
    acquire_request,
    recorder_token,
    recording_mode,
    start_request,
)
from worker.controller.steps_common import TRANSIENT, error_text, transient
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session, SessionState

if TYPE_CHECKING:
    from worker.controller.loop import Controller, Step

logger = logging.getLogger("worker.controller.perform")

#: start answers meaning the resource is unusable (433 expired, 1001 unknown, 432 mismatch).
_RESOURCE_CODES = frozenset({432, 433, 1001})


async def _probe_answered(ctl: Controller, step: Step, session: Session, why: str) -> bool:
    """A probe could not start a new task: back to waiting for the first one's sid."""
    retry_at = step.now_ms + ctl.deps.config.sid_probe_ms
    logger.info(
        "channel=%r uid=%d: probe answered %s; the earlier task counts as running",
        session.channel,
        session.uid,
        why,
    )
    restored = session.evolve(
        state=SessionState.SID_UNKNOWN,
        resource_id=session.probe_of,
        probe_of=None,
        start_attempts=1,
        retry_due_ms=retry_at,
        last_error=why,
    )
    await ctl.save(restored, session)
    await ctl.wake(step.channel, retry_at, state=step.state, now_ms=step.now_ms)
    return False


async def take_slot(ctl: Controller, step: Step) -> bool:
    admission = await ctl.deps.slots.acquire(step.channel)
    if not admission.holds_slot:
        logger.info(
            "channel=%r: no free recording slot; waiting at position %s",
            step.channel,
            admission.position,
        )
        return False
    uid_index = await ctl.next_uid_index(step.channel, step.now_ms)
    session = ctl.new_session(step.channel, step.policy, uid_index, step.now_ms)
    await ctl.save(session, None)
    return True


async def acquire_step(ctl: Controller, step: Step, session: Session) -> bool:
    try:
        answer = await ctl.deps.agora.acquire(
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
            client_request=acquire_request(),
        )
    except AgoraNoCapacity as exc:
        if session.probe_of is not None:
            return await _probe_answered(ctl, step, session, error_text(exc))
        # Agora's own concurrency limit: give the slot back, wait first in line (design §7).
        logger.warning(
            "channel=%r: Agora has no capacity (%s); waiting at the head of the queue",
            session.channel,
            error_text(exc),
        )
        await ctl.deps.sessions.delete(session.channel)
        await ctl.deps.slots.requeue_front(session.channel)
        retry_ms = ctl.deps.config.no_capacity_retry_ms
        await ctl.wake(step.channel, step.now_ms + retry_ms, state=step.state, now_ms=step.now_ms)
        return False
    except TRANSIENT as exc:
        return await transient(ctl, step, session, exc)
    except AgoraError as exc:
        if session.probe_of is not None:
            return await _probe_answered(ctl, step, session, error_text(exc))
        await ctl.start_failed(session, error_text(exc), step.now_ms)
        return False
    logger.info(
        "channel=%r uid=%d: acquired resource %s…",
        session.channel,
        session.uid,
        answer.resource_id[:12],
    )
    await ctl.save(
        session.evolve(
            state=SessionState.STARTING,
            resource_id=answer.resource_id,
            resource_ms=step.now_ms,
            resource_ids=(*session.resource_ids, answer.resource_id)[-4:],
            start_attempts=0,
            retry_due_ms=None,
        ),
        session,
    )
    return True


async def start_step(ctl: Controller, step: Step, session: Session) -> bool:
    assert session.resource_id is not None
    config = ctl.deps.config
    policy = step.policy
    attempting = await ctl.save(
        session.evolve(start_attempts=session.start_attempts + 1, retry_due_ms=None), session
    )
    try:
        request = start_request(
            policy,
            channel=session.channel,
            storage=config.storage,
            token=recorder_token(
                config.app_id, config.app_certificate, session.channel, session.uid, policy
            ),
            observed_live=await ctl.observed_live(session.channel),
            started_at=datetime.fromtimestamp(step.now_ms / 1000, UTC),
        )
        result = await ctl.deps.agora.start(
            resource_id=session.resource_id,
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(policy),
            client_request=request,
            retry_same_resource=step.action.retry_same_resource,
        )
    except AgoraStartUncertain as exc:
        logger.warning(
            "channel=%r uid=%d: start outcome unknown (%s); retrying on the same resource",
            session.channel,
            session.uid,
            error_text(exc),
        )
        if step.action.retry_same_resource:
            return await transient(ctl, step, attempting, exc)
        await ctl.save(attempting.evolve(last_error=error_text(exc)), attempting)
        return True
    except AgoraConflict as exc:
        if attempting.probe_of is not None:
            return await _probe_answered(ctl, step, attempting, "53 (task conflict)")
        return await _conflict(ctl, step, attempting, exc)
    except AgoraNoCapacity as exc:
        retry_ms = config.no_capacity_retry_ms
        logger.warning("channel=%r: start found no capacity (%s)", session.channel, exc)
        await ctl.save(_reacquire(attempting, step.now_ms + retry_ms, exc), attempting)
        await ctl.wake(step.channel, step.now_ms + retry_ms, state=step.state, now_ms=step.now_ms)
        return False
    except AgoraInvalidRequest as exc:
        if exc.code in _RESOURCE_CODES:
            logger.info("channel=%r: resource unusable (%s); acquiring anew", session.channel, exc)
            await ctl.save(_reacquire(attempting, None, exc), attempting)
            return True
        if attempting.probe_of is not None:
            return await _probe_answered(ctl, step, attempting, error_text(exc))
        await ctl.start_failed(attempting, error_text(exc), step.now_ms)
        return False
    except TRANSIENT as exc:
        return await transient(ctl, step, attempting, exc)
    except (AgoraError, ValueError) as exc:
        if attempting.probe_of is not None:
            return await _probe_answered(ctl, step, attempting, error_text(exc))
        await ctl.start_failed(attempting, error_text(exc), step.now_ms)
        return False
    now = step.now_ms
    if result.sid is None:
        logger.info(
            "channel=%r uid=%d: start answered 'already started' without a sid; "
            "waiting for recording event 40",
            session.channel,
            session.uid,
        )
        await ctl.save(
            attempting.evolve(state=SessionState.SID_UNKNOWN, started_ms=now, probe_of=None),
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
    await ctl.save(
        attempting.evolve(
            state=SessionState.STARTED,
            sid=result.sid,
            started_ms=now,
            check_due_ms=now + config.confirm_delay_ms,
            last_error=None,
            probe_of=None,
        ),
        attempting,
    )
    return True


def _reacquire(session: Session, retry_due_ms: int | None, exc: Exception) -> Session:
    return session.evolve(
        state=SessionState.ACQUIRING,
        resource_id=None,
        resource_ms=None,
        start_attempts=0,
        retry_due_ms=retry_due_ms,
        last_error=error_text(exc),
    )


async def _conflict(ctl: Controller, step: Step, session: Session, exc: AgoraConflict) -> bool:
    """start 400/53: a task with this (cname, uid) runs. Adopt it if recording event 40
    told its sid (and one of our resources answers for it), else use the other uid."""
    sighted = await ctl.deps.redis.hget(keys.recorder_sightings(session.channel), str(session.uid))
    if sighted is not None:
        sid = sighted.decode()
        for resource_id in reversed(session.resource_ids):
            try:
                await ctl.deps.agora.query(
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
            await ctl.save(
                session.evolve(
                    state=SessionState.STARTED,
                    resource_id=resource_id,
                    sid=sid,
                    started_ms=step.now_ms,
                    check_due_ms=step.now_ms,
                ),
                session,
            )
            return True
    uids = ctl.deps.config.uids(session.channel)
    other = 1 - session.uid_index
    logger.warning(
        "channel=%r uid=%d: start conflict (53) with a task of unknown sid; switching to uid %d",
        session.channel,
        session.uid,
        uids.uid(other),
    )
    ctl.deps.metrics.drift(Drift.ORPHAN_RECORDING)
    switched = _reacquire(session, None, exc).evolve(uid=uids.uid(other), uid_index=other)
    await ctl.save(switched, session)
    return True
