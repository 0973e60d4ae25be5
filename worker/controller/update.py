"""Change a running recording: a new mix layout (Agora `updateLayout`), other subscriptions
or a paused/resumed web recording (Agora `update`).

`update_recording` works under the channel's controller lock, so it never acts beside a
reconcile of the channel (which may be stopping the task). It reads the session: only a
task that has a sid and is started or running can be changed, and only in a way its mode
allows; anything else is a `conflict` and nothing is sent. The request goes through the
controller's Agora client, so it takes a permit of the shared rate limiter for every
attempt (`AUTOREC_MAX_API_QPS` across workers; it waits for one, as starts and stops do)
and transient failures are retried under the same classification and retry policy as every
other call. The session is not changed: the periodic query stays the judge of whether the
task runs. Building the request is pure (worker/controller/update_request.py).
"""

from __future__ import annotations

import logging
from typing import Final

from worker.agora import AgoraError, AgoraValidationError
from worker.agora.models import RecordingMode
from worker.controller.deps import ControllerDeps
from worker.controller.update_request import (
    change_field,
    failure_outcome,
    layout_request,
    refusal,
    update_request,
)
from worker.state.changes import InvalidChange, RecordingChange, UpdateOutcome, outcome
from worker.state.channel_lock import ChannelBusy, channel_lock
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session

logger = logging.getLogger(__name__)

#: How long a change waits for the channel's lock (a reconcile holds it for one job).
LOCK_WAIT_S: Final = 5.0


async def update_recording(
    deps: ControllerDeps, channel: str, change: RecordingChange
) -> UpdateOutcome:
    """Apply `change` to the recording running in `channel` (see the module docstring)."""
    try:
        async with channel_lock(
            deps.redis, channel, ttl_ms=deps.config.lock_ttl_ms, wait_s=LOCK_WAIT_S
        ):
            session = await deps.sessions.get(channel)
            refused = refusal(channel, session, change)
            if refused is not None:
                logger.info("change of channel=%r refused: %s", channel, refused["error"])
                return refused
            assert session is not None
            return await _send(deps, session, change)
    except ChannelBusy:
        return outcome(
            "conflict",
            error=f"{channel} is busy (another job holds its lock for {LOCK_WAIT_S:g} s); "
            "try again",
        )


async def _send(deps: ControllerDeps, session: Session, change: RecordingChange) -> UpdateOutcome:
    """Build and send the request; every answer becomes an outcome."""
    assert session.resource_id is not None
    assert session.sid is not None
    channel = session.channel
    try:
        if change.layout is not None:
            await deps.agora.update_layout(
                resource_id=session.resource_id,
                sid=session.sid,
                cname=channel,
                uid=session.uid,
                client_request=layout_request(change.layout),
            )
        else:
            await deps.agora.update(
                resource_id=session.resource_id,
                sid=session.sid,
                cname=channel,
                uid=session.uid,
                mode=RecordingMode(session.mode.value),
                client_request=update_request(change),
            )
    except InvalidChange as exc:
        return outcome("invalid", error=exc.problem, field=exc.field)
    except AgoraValidationError as exc:
        # Only the client request comes from the change; the rest is our own session.
        field = exc.field if exc.field.startswith("clientRequest") else None
        return outcome(
            "invalid",
            error=str(exc),
            field=change_field(change.group, field) if field is not None else None,
        )
    except (AgoraError, RateLimitTimeout) as exc:
        logger.warning(
            "change of channel=%r sid=%s (%s) failed: %s", channel, session.sid, change.group, exc
        )
        return failure_outcome(exc)
    logger.info("changed channel=%r sid=%s: %s", channel, session.sid, change.group)
    return outcome("ok")
