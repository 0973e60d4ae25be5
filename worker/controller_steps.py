"""The controller's actions: slot, acquire, start, query, stop — each persisted before and
after its Agora call, with the error handling of design §7.

`perform(controller, step)` carries out one decision and returns whether the reconcile
should decide again (True) or end now (False, a wake-up is scheduled when one is due).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from worker import keys
from worker.agora import (
    AgoraAlreadyStopped,
    AgoraConflict,
    AgoraError,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraNotFound,
    AgoraRetryableError,
    AgoraStartUncertain,
    AgoraTransportError,
)
from worker.agora.models.responses import QueryResponse, StopResponse
from worker.decide import Do
from worker.ratelimit import RateLimitTimeout
from worker.sessions import Session, SessionState
from worker.start_request import acquire_request, recorder_token, recording_mode, start_request

if TYPE_CHECKING:
    from worker.controller import Controller, Step

logger = logging.getLogger(__name__)

#: Transient failures: try again after `retry_delay_ms` (the call did not take effect, or
#: taking effect twice is harmless).
_TRANSIENT = (RateLimitTimeout, AgoraRetryableError, AgoraTransportError)
#: start answers meaning the resource is unusable (433 expired, 1001 unknown, 432 mismatch).
_RESOURCE_CODES = frozenset({432, 433, 1001})
#: How long a query is put off while the rate limit has no spare room (ms).
QUERY_YIELD_MS = 250
#: Query statuses of a task on its way out.
_EXITING = frozenset({6, 7, 8, 20})


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def perform(ctl: Controller, step: Step) -> bool:
    """Carry out `step.action`; True: decide again, False: the reconcile ends here."""
    action = step.action
    session = step.session
    now = step.now_ms
    if action.do is Do.IDLE:
        await ctl.wake_all(await ctl.deps.slots.release(step.channel), now)
        return False
    if action.do is Do.WAIT:
        if action.due_ms is not None:
            await ctl.wake(step.channel, action.due_ms, state=step.state, now_ms=now)
        return False
    if action.do is Do.TAKE_SLOT:
        return await _take_slot(ctl, step)
    assert session is not None
    if action.do is Do.ACQUIRE:
        return await _acquire(ctl, step, session)
    if action.do is Do.START:
        return await _start(ctl, step, session)
    if action.do is Do.QUERY:
        return await _query(ctl, step, session)
    if action.do is Do.STOP:
        return await _stop(ctl, step, session)
    if action.do is Do.FINISH:
        await ctl.finish(session, action.outcome, now)
        return True
    await ctl.save(_simple_change(step, session), session)
    return True


def _simple_change(step: Step, session: Session) -> Session:
    """The session after an action that only changes what we know (no Agora call)."""
    now = step.now_ms
    do = step.action.do
    if do is Do.MARK_UNDESIRED:
        return session.evolve(undesired_since_ms=now)
    if do is Do.CLEAR_UNDESIRED:
        return session.evolve(undesired_since_ms=None)
    if do is Do.RENEW_RESOURCE:
        return session.evolve(
            state=SessionState.ACQUIRING, resource_id=None, resource_ms=None, start_attempts=0
        )
    if do is Do.PROBE:
        return session.evolve(
            state=SessionState.ACQUIRING,
            probe_of=session.resource_id,
            resource_id=None,
            resource_ms=None,
            start_attempts=0,
            retry_due_ms=None,
        )
    if do is Do.SID_UNKNOWN:
        logger.warning(
            "channel=%r uid=%d: start outcome unknown on an expired resource; waiting for "
            "recording event 40 to learn the sid",
            session.channel,
            session.uid,
        )
        if session.probe_of is not None:
            return session.evolve(
                state=SessionState.SID_UNKNOWN,
                resource_id=session.probe_of,
                probe_of=None,
                start_attempts=1,
            )
        return session.evolve(state=SessionState.SID_UNKNOWN)
    assert do is Do.ADOPT
    logger.info(
        "channel=%r uid=%d: adopting sid %s from recording event 40",
        session.channel,
        session.uid,
        session.event_sid,
    )
    return session.evolve(
        state=SessionState.STARTED,
        sid=session.event_sid,
        started_ms=session.started_ms or now,
        check_due_ms=now,
    )


async def _transient(ctl: Controller, step: Step, session: Session, exc: Exception) -> bool:
    """Note a transient failure and come back after the retry delay."""
    delay = ctl.deps.config.retry_delay_ms
    if isinstance(exc, RateLimitTimeout):
        delay = max(delay, exc.wait_ms)
    due = step.now_ms + delay
    logger.warning(
        "channel=%r uid=%d: %s failed for now (%s); retrying in %d ms",
        session.channel,
        session.uid,
        step.action.do.value,
        _error_text(exc),
        delay,
    )
    await ctl.save(session.evolve(retry_due_ms=due, last_error=_error_text(exc)), session)
    await ctl.wake(step.channel, due, state=step.state, now_ms=step.now_ms)
    return False


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


async def _take_slot(ctl: Controller, step: Step) -> bool:
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


async def _acquire(ctl: Controller, step: Step, session: Session) -> bool:
    try:
        answer = await ctl.deps.agora.acquire(
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
            client_request=acquire_request(),
        )
    except AgoraNoCapacity as exc:
        if session.probe_of is not None:
            return await _probe_answered(ctl, step, session, _error_text(exc))
        # Agora's own concurrency limit: give the slot back, wait first in line (design §7).
        logger.warning(
            "channel=%r: Agora has no capacity (%s); waiting at the head of the queue",
            session.channel,
            _error_text(exc),
        )
        await ctl.deps.sessions.delete(session.channel)
        await ctl.deps.slots.requeue_front(session.channel)
        retry_ms = ctl.deps.config.no_capacity_retry_ms
        await ctl.wake(step.channel, step.now_ms + retry_ms, state=step.state, now_ms=step.now_ms)
        return False
    except _TRANSIENT as exc:
        return await _transient(ctl, step, session, exc)
    except AgoraError as exc:
        if session.probe_of is not None:
            return await _probe_answered(ctl, step, session, _error_text(exc))
        await ctl.start_failed(session, _error_text(exc), step.now_ms)
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


async def _start(ctl: Controller, step: Step, session: Session) -> bool:
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
            _error_text(exc),
        )
        if step.action.retry_same_resource:
            return await _transient(ctl, step, attempting, exc)
        await ctl.save(attempting.evolve(last_error=_error_text(exc)), attempting)
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
            return await _probe_answered(ctl, step, attempting, _error_text(exc))
        await ctl.start_failed(attempting, _error_text(exc), step.now_ms)
        return False
    except _TRANSIENT as exc:
        return await _transient(ctl, step, attempting, exc)
    except (AgoraError, ValueError) as exc:
        if attempting.probe_of is not None:
            return await _probe_answered(ctl, step, attempting, _error_text(exc))
        await ctl.start_failed(attempting, _error_text(exc), step.now_ms)
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
        last_error=_error_text(exc),
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
    switched = _reacquire(session, None, exc).evolve(uid=uids.uid(other), uid_index=other)
    await ctl.save(switched, session)
    return True


async def _query(ctl: Controller, step: Step, session: Session) -> bool:
    assert session.resource_id is not None
    assert session.sid is not None
    config = ctl.deps.config
    now = step.now_ms
    if not await ctl.spare_api_capacity():
        # Starts and stops go first; a check can wait until the rate limit has room.
        due = now + QUERY_YIELD_MS
        await ctl.save(session.evolve(check_due_ms=due), session)
        await ctl.wake(step.channel, due, state=step.state, now_ms=now)
        return False
    try:
        answer = await ctl.deps.agora.query(
            resource_id=session.resource_id, sid=session.sid, mode=recording_mode(step.policy)
        )
    except (AgoraNotFound, AgoraAlreadyStopped) as exc:
        return await _not_found(ctl, step, session, exc)
    except _TRANSIENT as exc:
        return await _transient(ctl, step, session.evolve(check_due_ms=now), exc)
    except AgoraError as exc:
        logger.warning("channel=%r: query failed (%s)", session.channel, _error_text(exc))
        await ctl.save(
            session.evolve(check_due_ms=now + 30_000, last_error=_error_text(exc)), session
        )
        return True
    return await _query_answer(ctl, step, session, answer, config.confirm_delay_ms)


async def _query_answer(
    ctl: Controller, step: Step, session: Session, answer: QueryResponse, recheck_ms: int
) -> bool:
    now = step.now_ms
    server = answer.server_response
    if server.is_running:
        if session.state is not SessionState.RUNNING:
            logger.info(
                "recording confirmed channel=%r uid=%d sid=%s status=%s",
                session.channel,
                session.uid,
                session.sid,
                server.status,
            )
        if not await ctl.deps.slots.renew(session.channel):
            await ctl.deps.slots.rebuild([session.channel])
        await ctl.save(
            session.evolve(
                state=SessionState.RUNNING,
                confirmed_ms=now,
                not_found=0,
                check_due_ms=None,
                retry_due_ms=None,
            ),
            session,
        )
        return True
    started = session.started_ms or session.created_ms
    status = server.status
    if status in _EXITING or now - started >= ctl.deps.config.start_status_timeout_ms:
        return await _not_found(ctl, step, session, None)
    recheck = session.evolve(check_due_ms=now + recheck_ms, not_found=0)
    await ctl.save(recheck, session)
    return True


async def _not_found(ctl: Controller, step: Step, session: Session, exc: Exception | None) -> bool:
    """Query 404 (or an exiting task): back off 5/10/15 s before declaring it dead, since an
    HA failover answers 404 for a while (design §7)."""
    backoff = ctl.deps.config.not_found_backoff_ms
    misses = session.not_found + 1
    error = _error_text(exc) if exc is not None else "task is not recording"
    if misses > len(backoff):
        logger.warning(
            "recording dead channel=%r uid=%d sid=%s after %d checks (%s)",
            session.channel,
            session.uid,
            session.sid,
            misses,
            error,
        )
        await ctl.finish(session.evolve(last_error=error), "died", step.now_ms)
        return True
    due = step.now_ms + backoff[misses - 1]
    logger.info(
        "channel=%r sid=%s: query found no running task (%s); checking again in %d ms",
        session.channel,
        session.sid,
        error,
        backoff[misses - 1],
    )
    await ctl.save(session.evolve(not_found=misses, check_due_ms=due, last_error=error), session)
    await ctl.wake(step.channel, due, state=step.state, now_ms=step.now_ms)
    return False


async def _stop(ctl: Controller, step: Step, session: Session) -> bool:
    now = step.now_ms
    if session.state is not SessionState.STOPPING:
        stopping = session.evolve(
            state=SessionState.STOPPING,
            stop_reason=step.action.reason,
            stop_requested_ms=now,
            retry_due_ms=None,
        )
        session = await ctl.save(stopping, session)
    if session.sid is None or session.resource_id is None:
        await ctl.finish(session, "sid_unknown", now)
        return True
    try:
        result = await ctl.deps.agora.stop(
            resource_id=session.resource_id,
            sid=session.sid,
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
        )
    except _TRANSIENT as exc:
        return await _transient(ctl, step, session, exc)
    except AgoraError as exc:
        retry_ms = ctl.deps.config.stop_failure_retry_ms
        logger.error(
            "channel=%r sid=%s: stop refused (%s); trying again in %d ms",
            session.channel,
            session.sid,
            _error_text(exc),
            retry_ms,
        )
        await ctl.save(
            session.evolve(retry_due_ms=now + retry_ms, last_error=_error_text(exc)), session
        )
        await ctl.wake(step.channel, now + retry_ms, state=step.state, now_ms=now)
        return False
    files, uploading = _stop_files(result.response)
    logger.info(
        "recording stopped channel=%r uid=%d sid=%s outcome=%s files=%d uploading=%s",
        session.channel,
        session.uid,
        session.sid,
        result.outcome.value,
        len(files),
        uploading,
    )
    await ctl.finish(
        session,
        result.outcome.value,
        now,
        files=files or session.files,
        uploading_status=uploading or session.uploading_status,
    )
    return True


def _stop_files(response: StopResponse | None) -> tuple[tuple[str, ...], str | None]:
    """File names and uploadingStatus of a stop answer (any mode)."""
    if response is None:
        return (), None
    server = response.server_response
    names = [f.file_name for f in server.file_list]
    uploading = server.uploading_status
    for service in server.extension_service_state:
        names += [f.file_name for f in service.payload.file_list]
        uploading = uploading or service.payload.uploading_status
    return tuple(dict.fromkeys(names)), uploading
