"""`reconcile_all()`: the periodic pass over every channel (worker/controller/sweep.py).

Registered as a unique arq cron job every `AUTOREC_RECONCILE_INTERVAL_S` (and at worker
start, which also rebuilds the slot set after Redis lost data); tests call it directly.
"""

from __future__ import annotations

from worker.controller.sweep import sweep
from worker.functions import WorkerContext


async def reconcile_all(ctx: WorkerContext) -> str:
    """One pass; returns its summary."""
    controller = ctx["controller"]
    async with controller.deps.metrics.job("reconcile_all"):
        report = await sweep(controller.effects)
    return report.summary()
