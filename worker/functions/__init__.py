"""The worker's arq jobs, one per module, and the context every job receives.

Resources reach jobs through `ctx`, filled once per process in `worker.main.startup` and
closed in `worker.main.shutdown`; WorkerContext is the written contract of its keys.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from arq.connections import ArqRedis

from worker.settings import Settings

if TYPE_CHECKING:
    import httpx
    import redis.asyncio as aioredis

    from worker.controller.loop import Controller
    from worker.ingest.consumer import StreamConsumer
    from worker.metrics import MetricsServer, WorkerMetrics
    from worker.notify.service import NotificationDelivery


class WorkerContext(TypedDict, total=False):
    """The arq `ctx` of an autorec worker process (arq adds the job_* keys per job)."""

    redis: ArqRedis
    """arq's Redis pool (set by arq before startup); enqueue jobs through it."""
    settings: Settings
    """The process's one Settings object."""
    metrics: WorkerMetrics
    """The worker's Prometheus metrics."""
    metrics_server: MetricsServer | None
    """The metrics HTTP server, or None when AUTOREC_WORKER_METRICS_PORT is 0."""
    http: httpx.AsyncClient
    """The Agora client's HTTP connection pool."""
    controller: Controller
    """The channel controller (its `deps` hold the Agora client, slots, stores, policies)."""
    consumer_redis: aioredis.Redis[bytes]
    """The events consumer's own Redis client (it blocks on XREADGROUP)."""
    consumer: StreamConsumer
    """The events-stream consumer."""
    consumer_task: asyncio.Task[None]
    """The task running `consumer.run()`."""
    notify: NotificationDelivery
    """The notification deliverers (one task per endpoint)."""
    job_id: str
    """Set by arq for each job."""
    job_try: int
    """Set by arq for each job: 1 on the first run."""
    enqueue_time: datetime
    """Set by arq for each job."""
    score: int
    """Set by arq for each job: when it was due (ms)."""
