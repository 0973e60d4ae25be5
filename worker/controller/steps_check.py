"""A running recording: confirmation and periodic queries, the failover window of query
404s, and the stop, whose terminal answers end the session.

A query 404 does not prove a task gone: during an HA failover Agora answers 404 for up to
90 s while the task moves to another server. So 404s are looked at again after growing
delays (5, 10, 15, 20, 30, 30, … s) until `failover_window_ms` has passed since the first;
meanwhile the task keeps its session, its slot and its channel. Only then, or when the
task is proven gone (a query status saying it exits, recording events 11/41), is it
declared dead: it is still sent a stop (up to `dead_stop_attempts` calls), then its session
ends as `died` and the channel may start a replacement (design §7).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from worker.agora import AgoraAlreadyStopped, AgoraError, AgoraNotFound, StopOutcome
from worker.agora.models.responses import QueryResponse, RecordedFile, StopResponse
from worker.controller.decide import DEAD_STOP_REASON, proven_gone
from worker.controller.effects import Effects
from worker.controller.failures import TRANSIENT, error_text
from worker.controller.start_request import recording_mode
from worker.controller.step import Step
from worker.controller.steps_common import transient
from worker.state.files import RecordingFile, merge_files
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
    except AgoraNotFound as exc:
        fx.note_failure(step.action.do.value, exc)
        return await _not_found(fx, step, session, error_text(exc))
    except AgoraAlreadyStopped as exc:
        fx.note_failure(step.action.do.value, exc)
        return await _declare_dead(fx, step, session, f"the task is exiting ({error_text(exc)})")
    except TRANSIENT as exc:
        fx.note_failure(step.action.do.value, exc)
        return await transient(fx, step, replace(session, check_due_ms=now), exc)
    except AgoraError as exc:
        fx.note_failure(step.action.do.value, exc)
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
                not_found_since_ms=None,
                check_due_ms=None,
                retry_due_ms=None,
            ),
            session,
        )
        return True
    started = session.started_ms or session.created_ms
    status = server.status
    if status in _EXITING:
        return await _declare_dead(fx, step, session, f"query status {status}: the task exits")
    if now - started >= fx.deps.config.start_status_timeout_ms:
        # Not recording this long after start (or a task restarting on another server):
        # a miss like a 404, within the same failover window.
        return await _not_found(fx, step, session, f"query status {status}: not recording")
    recheck = replace(session, check_due_ms=now + recheck_ms, not_found=0, not_found_since_ms=None)
    await fx.save(recheck, session)
    return True


def _back_off(fx: Effects, session: Session, now_ms: int) -> tuple[int, int, int]:
    """(misses so far, first miss time, next look) of a task whose query or stop answered
    404: the next of the growing delays, but never past the failover window's end."""
    config = fx.deps.config
    misses = session.not_found + 1
    since = session.not_found_since_ms if session.not_found_since_ms is not None else now_ms
    delays = config.not_found_backoff_ms
    due = min(now_ms + delays[min(misses, len(delays)) - 1], since + config.failover_window_ms)
    return misses, since, due


def _window_open(fx: Effects, session: Session, now_ms: int) -> bool:
    """Whether the task answered 404 less than the failover window ago and no recording
    event proved it gone: it may still run (moving to another server)."""
    since = session.not_found_since_ms
    if since is None or proven_gone(session):
        return False
    return now_ms < since + fx.deps.config.failover_window_ms


def _missed_from(session: Session, now_ms: int) -> Session:
    """The session as if its failover window opened at `now_ms` unless an earlier 404 opened
    it: a stop answered 404 right after a failover (recording event 12) proves nothing."""
    if session.not_found_since_ms is not None:
        return session
    return replace(session, not_found_since_ms=now_ms)


async def _not_found(fx: Effects, step: Step, session: Session, error: str) -> bool:
    """Query 404 (or no recording long after start): look again after growing delays while
    the failover window is open; once it has passed, declare the task dead."""
    now = step.now_ms
    misses, since, due = _back_off(fx, session, now)
    missed = replace(session, not_found=misses, not_found_since_ms=since, last_error=error)
    if not _window_open(fx, missed, now):
        why = f"{error} for {(now - since) / 1000:.0f} s after {misses} checks"
        return await _declare_dead(fx, step, missed, why)
    logger.info(
        "channel=%r sid=%s: query found no running task (%s); counted as running for %d ms "
        "more (failover window), checking again in %d ms",
        session.channel,
        session.sid,
        error,
        since + fx.deps.config.failover_window_ms - now,
        due - now,
    )
    await fx.save(replace(missed, check_due_ms=due), session)
    await fx.wake(step.channel, due, state=step.state, now_ms=now)
    return False


async def _declare_dead(fx: Effects, step: Step, session: Session, why: str) -> bool:
    """The task is gone at Agora: stop it all the same (it costs nothing if it is gone and
    ends it if it is not), then the session ends as `died`."""
    logger.warning(
        "recording dead channel=%r uid=%d sid=%s (%s); sending a stop",
        session.channel,
        session.uid,
        session.sid,
        why,
    )
    dead = replace(
        session,
        state=SessionState.STOPPING,
        stop_reason=DEAD_STOP_REASON,
        stop_requested_ms=step.now_ms,
        retry_due_ms=None,
        last_error=why,
    )
    await fx.save(dead, session)
    return True


async def stop_step(fx: Effects, step: Step, session: Session) -> bool:
    """Stop the recording (noted as stopping before the call); every terminal answer ends the
    session with the stop's outcome (`died` for a task declared dead), except a 404 while
    the task's failover window is open — a first 404 opens it, unless a recording event
    proved the task gone. A dead task gets `dead_stop_attempts` stop calls."""
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
    sid, resource_id = session.sid, session.resource_id
    if sid is None or resource_id is None:
        await fx.finish(session, Outcome.SID_UNKNOWN, now)
        return True
    dead = session.stop_reason == DEAD_STOP_REASON
    session = await fx.save(replace(session, stop_attempts=session.stop_attempts + 1), session)
    if dead and session.stop_attempts > fx.deps.config.dead_stop_attempts:
        return await _dead_unanswered(fx, step, session)
    try:
        result = await fx.deps.agora.stop(
            resource_id=resource_id,
            sid=sid,
            cname=session.channel,
            uid=session.uid,
            mode=recording_mode(step.policy),
        )
    except TRANSIENT as exc:
        fx.note_failure(step.action.do.value, exc)
        if dead and session.stop_attempts >= fx.deps.config.dead_stop_attempts:
            return await _dead_unanswered(fx, step, replace(session, last_error=error_text(exc)))
        return await transient(fx, step, session, exc)
    except AgoraError as exc:
        fx.note_failure(step.action.do.value, exc)
        if dead and session.stop_attempts >= fx.deps.config.dead_stop_attempts:
            return await _dead_unanswered(fx, step, replace(session, last_error=error_text(exc)))
        # A dead task's stop has few attempts left: they come sooner.
        config = fx.deps.config
        retry_ms = config.retry_delay_ms if dead else config.stop_failure_retry_ms
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
    if result.outcome is StopOutcome.NOT_FOUND and _window_open(
        fx, _missed_from(session, now), now
    ):
        return await _stop_not_found_in_window(fx, step, session)
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
        Outcome.DIED if dead else Outcome(result.outcome.value),
        now,
        files=files,
        uploading_status=uploading,
    )
    return True


async def _stop_not_found_in_window(fx: Effects, step: Step, session: Session) -> bool:
    """A stop answered 404 while the task's failover window is open: that proves nothing
    (the task may be moving), so the stop is sent again every `retry_delay_ms` (not on the
    query's growing back-off: a task that runs on after its failover records an empty
    channel) and the session keeps its slot until the window has passed or the task is
    proven gone."""
    now = step.now_ms
    misses, since, _ = _back_off(fx, session, now)
    config = fx.deps.config
    due = min(now + config.retry_delay_ms, since + config.failover_window_ms)
    logger.info(
        "channel=%r sid=%s: stop answered 404 inside the failover window; stopping again in %d ms",
        session.channel,
        session.sid,
        due - now,
    )
    waiting = replace(
        session,
        not_found=misses,
        not_found_since_ms=since,
        retry_due_ms=due,
        last_error="stop: 404 failed to find worker",
    )
    await fx.save(waiting, session)
    await fx.wake(step.channel, due, state=step.state, now_ms=now)
    return False


async def _dead_unanswered(fx: Effects, step: Step, session: Session) -> bool:
    """A dead task's stop was not answered after every attempt: end the session anyway (the
    failover window or Agora's own answer already showed the task gone; a slot must not be
    held for ever by a stop that cannot get through)."""
    logger.warning(
        "channel=%r sid=%s: no answer to the stop of a dead recording after %d attempts (%s); "
        "ending its session",
        session.channel,
        session.sid,
        fx.deps.config.dead_stop_attempts,
        session.last_error,
    )
    await fx.finish(session, Outcome.DIED, step.now_ms)
    return True


def _stop_files(response: StopResponse | None) -> tuple[tuple[RecordingFile, ...], str | None]:
    """Files and uploadingStatus of a stop answer (any mode; in the `string` file-list mode
    only the M3U8 file's name is known)."""
    if response is None:
        return (), None
    server = response.server_response
    listed = list(server.file_list)
    uploading = server.uploading_status
    for service in server.extension_service_state:
        listed += service.payload.file_list
        uploading = uploading or service.payload.uploading_status
    return merge_files((), map(_file, listed)), uploading


def _file(file: RecordedFile) -> RecordingFile:
    return RecordingFile(
        filename=file.file_name,
        track_type=file.track_type,
        uid=file.uid,
        mixed_all_user=file.mixed_all_user,
        is_playable=file.is_playable,
        slice_start_time=file.slice_start_time_ms,
    )
