"""What the controller's steps share: transient-failure handling and error texts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from worker.agora import AgoraRetryableError, AgoraTransportError
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session

if TYPE_CHECKING:
    from worker.controller.loop import Controller, Step

logger = logging.getLogger("worker.controller.perform")

#: Transient failures: try again after `retry_delay_ms` (the call did not take effect, or
#: taking effect twice is harmless).
TRANSIENT = (RateLimitTimeout, AgoraRetryableError, AgoraTransportError)


def error_text(exc: BaseException) -> str:
    """The exception as one short line for logs and `last_error` (never a request body)."""
    return f"{type(exc).__name__}: {exc}"[:300]


async def transient(ctl: Controller, step: Step, session: Session, exc: Exception) -> bool:
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
        error_text(exc),
        delay,
    )
    await ctl.save(session.evolve(retry_due_ms=due, last_error=error_text(exc)), session)
    await ctl.wake(step.channel, due, state=step.state, now_ms=step.now_ms)
    return False
