"""`reconcile_channel(channel)`: move a channel's recording toward its desired state.

For now it only decides and reports what it would do (start, stop or nothing); the
controller replaces the body with the real reconcile (slots, rate limit, Agora calls).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from worker import keys
from worker.channel_state import read_channel_state
from worker.functions import WorkerContext

logger = logging.getLogger(__name__)


class Intent(StrEnum):
    """What a reconcile would do to the channel's recording."""

    START = "start"
    STOP = "stop"
    NOTHING = "nothing"


async def reconcile_channel(ctx: WorkerContext, channel: str) -> str:
    """Compare desired and actual recording state of `channel`; log and return the intent."""
    redis = ctx["redis"]
    state = await read_channel_state(redis, channel)
    desired = state is not None and state.desired
    recording = bool(await redis.exists(keys.session(channel)))
    if desired and not recording:
        intent = Intent.START
    elif recording and not desired:
        intent = Intent.STOP
    else:
        intent = Intent.NOTHING
    logger.info(
        "reconcile %r (job %s): desired=%s recording=%s occupancy=%d gen=%d -> would %s",
        channel,
        ctx.get("job_id", "-"),
        desired,
        recording,
        state.occupancy if state else 0,
        state.gen if state else 0,
        intent.value,
    )
    return intent.value
