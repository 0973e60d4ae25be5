"""The controller's actions: one decision carried out, persisted before and after each
Agora call (the calls live in worker/controller/steps_start.py and
worker/controller/steps_check.py).

`perform(effects, step)` returns whether the reconcile should decide again (True) or end
now (False; a wake-up is scheduled when one is due).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from worker import keys
from worker.controller.decide import Do
from worker.controller.effects import Effects
from worker.controller.step import Step
from worker.controller.steps_check import query_step, stop_step
from worker.controller.steps_start import acquire_step, start_step, take_slot
from worker.notify.emit import waiting_guard
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)


async def perform(fx: Effects, step: Step) -> bool:
    """Carry out `step.action`; True: decide again, False: the reconcile ends here."""
    action = step.action
    session = step.session
    now = step.now_ms
    if action.do is Do.IDLE:
        await fx.wake_all(await fx.deps.slots.release(step.channel), now)
        # Out of the queue too: a later wait is told again.
        await fx.deps.redis.delete(keys.notification_guard(waiting_guard(step.channel)))
        return False
    if action.do is Do.WAIT:
        if action.due_ms is not None:
            await fx.wake(step.channel, action.due_ms, state=step.state, now_ms=now)
        return False
    if action.do is Do.TAKE_SLOT:
        return await take_slot(fx, step)
    assert session is not None
    if action.do is Do.ACQUIRE:
        return await acquire_step(fx, step, session)
    if action.do is Do.START:
        return await start_step(fx, step, session)
    if action.do is Do.QUERY:
        return await query_step(fx, step, session)
    if action.do is Do.STOP:
        return await stop_step(fx, step, session)
    if action.do is Do.FINISH:
        assert action.outcome is not None
        await fx.finish(session, action.outcome, now)
        return True
    await fx.save(_simple_change(step, session), session)
    return True


def _simple_change(step: Step, session: Session) -> Session:
    """The session after an action that only changes what we know (no Agora call)."""
    now = step.now_ms
    do = step.action.do
    if do is Do.MARK_UNDESIRED:
        return replace(session, undesired_since_ms=now)
    if do is Do.CLEAR_UNDESIRED:
        return replace(session, undesired_since_ms=None)
    if do is Do.RENEW_RESOURCE:
        return replace(
            session,
            state=SessionState.ACQUIRING,
            resource_id=None,
            resource_ms=None,
            start_attempts=0,
        )
    if do is Do.PROBE:
        return replace(
            session,
            state=SessionState.ACQUIRING,
            probe_of=session.resource_id,
            resource_id=None,
            resource_ms=None,
            start_attempts=0,
            retry_due_ms=None,
            # A sid we could not adopt (no resource of its task) must not be taken for the
            # probe's own task.
            event_sid=None,
        )
    if do is Do.SID_UNKNOWN:
        logger.warning(
            "channel=%r uid=%d: start outcome unknown on an expired resource; waiting for "
            "recording event 40 to learn the sid",
            session.channel,
            session.uid,
        )
        if session.probe_of is not None:
            return replace(
                session,
                state=SessionState.SID_UNKNOWN,
                resource_id=session.probe_of,
                probe_of=None,
                start_attempts=1,
            )
        return replace(session, state=SessionState.SID_UNKNOWN)
    assert do is Do.ADOPT
    logger.info(
        "channel=%r uid=%d: adopting sid %s from recording event 40",
        session.channel,
        session.uid,
        session.event_sid,
    )
    return replace(
        session,
        state=SessionState.STARTED,
        sid=session.event_sid,
        started_ms=session.started_ms or now,
        check_due_ms=now,
        retry_due_ms=None,
    )
