"""A running recording: confirmation and periodic queries (with the 404 back-off) and the
stop, whose terminal answers all end the session."""

from __future__ import annotations

import logging
from dataclasses import replace

from worker.agora import AgoraAlreadyStopped, AgoraError, AgoraNotFound
from worker.agora.models.responses import QueryResponse, StopResponse
from worker.controller.effects import Effects
from worker.controller.failures import TRANSIENT, error_text
from worker.controller.start_request import recording_mode
from worker.controller.step import Step
from worker.controller.steps_common import transient
from worker.state.history import Outcome
from worker.state.sessions import Session, SessionState

logger = logging.getLogger(__name__)

#: How long a query is put off while the rate limit has no spare room (ms).
QUERY_YIELD_MS = 250
#: Query statuses of a task on its way out.
_EXITING = frozenset({6, 7, 8, 20})


async def query_step(fx: Effects, step: Step, session: Session) -> bool:
    """Ask Agora whether the task records (a confirmation or a periodic check), when the rate
    limit has room for a request that can wait."""
    assert session.resource_id is not None
    assert session.sid is not None
    config = fx.deps.config
    now = step.now_ms
    if not await fx.spare_api_capacity():
        # Starts and stops go first; a check can wait until the rate limit has room.
        due = now + QUERY_YIELD_MS
        await fx.save(replace(session, check_due_ms=due), session)
        await fx.wake(step.channel, due, state=step.state, now_ms=now)
        return False
    try:
        answer = await fx.deps.agora.query(
            resource_id=session.resource_id, sid=session.sid, mode=recording_mode(step.policy)
        )
    except (AgoraNotFound, AgoraAlreadyStopped) as exc:
        return await _not_found(fx, step, session, exc)
    except TRANSIENT as exc:
        return await transient(fx, step, replace(session, check_due_ms=now), exc)
    except AgoraError as exc:
        logger.warning("channel=%r: query failed (%s)", session.channel, error_text(exc))
        await fx.save(
            replace(session, check_due_ms=now + 30_000, last_error=error_text(exc)), session
        )
        return True
    return await _query_answer(fx, step, session, answer, config.confirm_delay_ms)


async def _query_answer(
    fx: Effects, step: Step, session: Session, answer: QueryResponse, recheck_ms: int
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
        if not await fx.deps.slots.renew(session.channel):
            await fx.deps.slots.rebuild([session.channel])
        await fx.save(
            replace(
                session,
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
    if status in _EXITING or now - started >= fx.deps.config.start_status_timeout_ms:
        return await _not_found(fx, step, session, None)
    recheck = replace(session, check_due_ms=now + recheck_ms, not_found=0)
    await fx.save(recheck, session)
    return True


async def _not_found(fx: Effects, step: Step, session: Session, exc: Exception | None) -> bool:
    """Query 404 (or an exiting task): back off 5/10/15 s before declaring it dead, since an
    HA failover answers 404 for a while (design §7)."""
    backoff = fx.deps.config.not_found_backoff_ms
    misses = session.not_found + 1
    error = error_text(exc) if exc is not None else "task is not recording"
    if misses > len(backoff):
        logger.warning(
            "recording dead channel=%r uid=%d sid=%s after %d checks (%s)",
            session.channel,
            session.uid,
            session.sid,
            misses,
            error,
        )
        await fx.finish(replace(session, last_error=error), Outcome.DIED, step.now_ms)
        return True
    due = step.now_ms + backoff[misses - 1]
    logger.info(
        "channel=%r sid=%s: query found no running task (%s); checking again in %d ms",
        session.channel,
        session.sid,
        error,
        backoff[misses - 1],
    )
    await fx.save(replace(session, not_found=misses, check_due_ms=due, last_error=error), session)
    await fx.wake(step.channel, due, state=step.state, now_ms=step.now_ms)
    return False


async def stop_step(fx: Effects, step: Step, session: Session) -> bool:
    """Stop the recording (noted as stopping before the call); every terminal answer ends the
    session with the stop's outcome."""
    now = step.now_ms
    if session.state is not SessionState.STOPPING:
        stopping = replace(
            session,
            state=SessionState.STOPPING,
            stop_reason=step.action.reason,
            stop_requested_ms=now,
            retry_due_ms=None,
        )
        session = await fx.save(stopping, session)
    if session.sid is None or session.resource_id is None:
        await fx.finish(session, Outcome.SID_UNKNOWN, now)
        return True
    try:
        result = await fx.deps.agora.stop(
            resource_id=session.resource_id,
            sid=session.sid,
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
        )
    except TRANSIENT as exc:
        return await transient(fx, step, session, exc)
    except AgoraError as exc:
        retry_ms = fx.deps.config.stop_failure_retry_ms
        logger.error(
            "channel=%r sid=%s: stop refused (%s); trying again in %d ms",
            session.channel,
            session.sid,
            error_text(exc),
            retry_ms,
        )
        await fx.save(
            replace(session, retry_due_ms=now + retry_ms, last_error=error_text(exc)), session
        )
        await fx.wake(step.channel, now + retry_ms, state=step.state, now_ms=now)
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
    await fx.finish(
        session,
        Outcome(result.outcome.value),
        now,
        files=files or session.files,
        uploading_status=uploading,
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
