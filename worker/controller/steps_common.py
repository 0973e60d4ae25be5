"""What the controller's steps share: coming back after a transient failure (which failures
are transient is decided in worker/controller/failures.py)."""

from __future__ import annotations

import logging
from dataclasses import replace

from worker.controller.effects import Effects
from worker.controller.failures import error_text
from worker.controller.step import Step
from worker.state.ratelimit import RateLimitTimeout
from worker.state.sessions import Session

logger = logging.getLogger(__name__)


async def transient(fx: Effects, step: Step, session: Session, exc: Exception) -> bool:
    """Note a transient failure and come back after the retry delay."""
    delay = fx.deps.config.retry_delay_ms
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
    await fx.save(replace(session, retry_due_ms=due, last_error=error_text(exc)), session)
    await fx.wake(step.channel, due, state=step.state, now_ms=step.now_ms)
    return False
