"""`reconcile_channel(channel)`: move one channel's recording toward its desired state.

Short and idempotent: the work is `Controller.reconcile` (worker/controller/loop.py) under the
channel's lock. A job that finds the lock held waits briefly, then asks arq to run it again
later (`Retry`): the holder re-reads the channel before it ends, and the retry re-reads it
again, so no wake-up is lost.

A reconcile whose Agora call failed has still done its work (the failure is stored and the
next attempt scheduled), but it ends as a failed arq job (`ReconcileFailed`, naming the step,
Agora's status and code), so queue dashboards show the failure; arq does not run it again.
"""

from __future__ import annotations

import logging
from typing import Final

from arq.worker import Retry

from worker.controller.effects import CURRENT_JOB_ID, JOB_FAILURES
from worker.controller.failures import StepFailure
from worker.functions import WorkerContext
from worker.state.channel_lock import ChannelBusy
from worker.state.reconcile_queue import RECONCILE_FUNCTION

logger = logging.getLogger(__name__)

#: How long a job waits for a busy channel's lock before deferring itself.
LOCK_WAIT_S: Final = 0.5
#: Delay of the deferred retry when the lock stayed busy.
BUSY_RETRY_S: Final = 1.0
#: Runs of one job (lock retries included): covers a lock held for a whole job timeout.
MAX_TRIES: Final = 120


class ReconcileFailed(RuntimeError):
    """A reconcile ended with at least one failed Agora call; `failures` has each one.

    arq stores a failed job's exception pickled; it is stored as a plain `RuntimeError` with
    the same one-line message, so a queue dashboard running without this package reads it.
    """

    def __init__(self, channel: str, summary: str, failures: list[StepFailure]) -> None:
        errors = "; ".join(failure.line() for failure in failures)
        super().__init__(f"channel {channel!r} ({summary}): {errors}")
        self.channel = channel
        self.summary = summary
        self.failures = failures

    def __reduce__(self) -> tuple[type[RuntimeError], tuple[str]]:
        return RuntimeError, (str(self),)


async def reconcile_channel(ctx: WorkerContext, channel: str) -> str:
    """Reconcile `channel`; returns the actions taken (`take_slot,acquire,start,...`)."""
    controller = ctx["controller"]
    CURRENT_JOB_ID.set(ctx.get("job_id"))
    failures: list[StepFailure] = []
    JOB_FAILURES.set(failures)
    async with controller.deps.metrics.job(RECONCILE_FUNCTION):
        try:
            report = await controller.reconcile(channel, lock_wait_s=LOCK_WAIT_S)
        except ChannelBusy:
            logger.info(
                "reconcile channel=%r (job %s): busy; retrying in %.1f s",
                channel,
                ctx.get("job_id", "-"),
                BUSY_RETRY_S,
            )
            raise Retry(defer=BUSY_RETRY_S) from None
        if failures:
            raise ReconcileFailed(channel, report.summary(), failures)
    return report.summary()
