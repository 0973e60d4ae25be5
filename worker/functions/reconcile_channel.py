"""`reconcile_channel(channel)`: move one channel's recording toward its desired state.

Short and idempotent: the work is `Controller.reconcile` (worker/controller/loop.py) under the
channel's lock. A job that finds the lock held waits briefly, then asks arq to run it again
later (`Retry`): the holder re-reads the channel before it ends, and the retry re-reads it
again, so no wake-up is lost.
"""

from __future__ import annotations

import logging
from typing import Final

from arq.worker import Retry

from worker.controller.effects import CURRENT_JOB_ID
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


async def reconcile_channel(ctx: WorkerContext, channel: str) -> str:
    """Reconcile `channel`; returns the actions taken (`take_slot,acquire,start,...`)."""
    controller = ctx["controller"]
    CURRENT_JOB_ID.set(ctx.get("job_id"))
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
    return report.summary()
