"""Opening a recording: slot, acquire, start — and Agora's answers on the way (design §7):
no capacity, conflicts (53), unusable resources, uncertain starts, probes.

A failed acquire or start is classified by worker/controller/failures.py and handled by
worker/controller/start_reactions.py (`REACTIONS`, one function per kind of reaction).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from worker import keys
from worker.controller.effects import Effects
from worker.controller.failures import (
    ACQUIRE_ERRORS,
    START_ERRORS,
    acquire_reaction,
    start_reaction,
)
from worker.controller.start_reactions import REACTIONS
from worker.controller.start_request import (
    acquire_request,
    recorder_token,
    recording_mode,
    start_request,
)
from worker.controller.step import Step
from worker.notify.emit import waiting_guard
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)


async def take_slot(fx: Effects, step: Step) -> bool:
    """Take a recording slot (or wait in line for one) and open a session on it."""
    admission = await fx.deps.slots.acquire(step.channel)
    if not admission.holds_slot:
        logger.info(
            "channel=%r: no free recording slot; waiting at position %s",
            step.channel,
            admission.position,
        )
        await fx.deps.notifier.waiting(step.channel, step.policy, admission.position, step.now_ms)
        return False
    await fx.deps.redis.delete(keys.notification_guard(waiting_guard(step.channel)))
    uid_index = await fx.next_uid_index(step.channel, step.now_ms)
    session = await fx.new_session(step.channel, step.policy, uid_index, step.now_ms, step.overlay)
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
        fx.note_failure(step.action.do.value, exc)
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
        fx.note_failure(step.action.do.value, exc)
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
