"""`update_recording(channel, change)`: change the recording running in a channel (a mix
layout, subscriptions, a web recording's pause) and return the `UpdateOutcome`.

The HTTP edge enqueues it with `worker.state.changes.request_update` and awaits the result.
The work is `worker.controller.update.update_recording`; a refused change (a conflict, an
invalid change, an Agora error) is an answer, not a failure, so the job is never retried:
Agora's transient failures are already retried inside the call.
"""

from __future__ import annotations

from typing import Any, Final

from worker.controller.update import update_recording as change_recording
from worker.functions import WorkerContext
from worker.state.changes import (
    UPDATE_FUNCTION,
    InvalidChange,
    UpdateOutcome,
    outcome,
    parse_change,
)

#: Runs of one job: the outcome is the answer, whatever it is.
MAX_TRIES: Final = 1
#: How long the outcome stays readable (the edge reads it as soon as it is there).
KEEP_RESULT_S: Final = 300


async def update_recording(
    ctx: WorkerContext, channel: str, change: dict[str, Any]
) -> UpdateOutcome:
    """Validate `change` (a `RecordingChange` as JSON) and apply it to `channel`."""
    controller = ctx["controller"]
    async with controller.deps.metrics.job(UPDATE_FUNCTION):
        try:
            parsed = parse_change(change)
        except InvalidChange as exc:
            return outcome("invalid", error=exc.problem, field=exc.field)
        return await change_recording(controller.deps, channel, parsed)
