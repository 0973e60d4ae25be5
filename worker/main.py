"""The arq worker's composition root: its options, startup (settings, metrics, events
consumer) and shutdown.

arq reads a settings class's own `__dict__`, so the Redis connection cannot be a lazy class
attribute. The pieces are therefore:

- `WorkerOptions`: everything that does not depend on the environment (functions, hooks,
  timings). The controller adds its jobs here.
- `worker_settings(settings)`: the complete arq settings (a dict arq accepts) for one
  Settings object, with `redis_settings` from `REDIS_URL` and the Settings passed in `ctx`.
  `autorec worker` runs `arq.worker.run_worker(worker_settings(settings))`.
- `WorkerSettings`: `worker_settings(Settings.load())`, built on first access (module
  `__getattr__`), so `arq worker.main.WorkerSettings` works and importing this module reads
  nothing from the environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Final, cast

import redis.asyncio as aioredis
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Function, func

from worker.consumer import StreamConsumer
from worker.functions import WorkerContext
from worker.functions.reconcile_channel import reconcile_channel
from worker.metrics import WorkerMetrics, start_metrics_server
from worker.normalize import UidRange
from worker.occupancy import OccupancyRules
from worker.reconcile_queue import RECONCILE_FUNCTION, enqueue_reconcile
from worker.settings import Settings

logger = logging.getLogger(__name__)

#: Until policies are mapped onto occupancy rules, every channel is recorded from one user.
DEFAULT_RULES: Final = OccupancyRules(record=True, min_users=1, count_audience=False)
#: How long shutdown waits for the consumer to finish its step before cancelling it.
CONSUMER_STOP_TIMEOUT_S: Final = 5.0
RECONCILE_TIMEOUT_S: Final = 15
#: Reconcile job ids are unique per generation; a kept result only dedupes repeats of one.
RECONCILE_KEEP_RESULT_S: Final = 300


def default_rules(channel: str) -> OccupancyRules:
    """The occupancy rules of every channel until policies are wired in."""
    return DEFAULT_RULES


def consumer_name(settings: Settings) -> str:
    """This process's stable stream consumer name: configured, else host name + pid."""
    return settings.autorec_consumer_name or f"{socket.gethostname()}-{os.getpid()}"


async def startup(ctx: WorkerContext) -> None:
    """arq `on_startup`: build Settings once, start metrics and the events consumer."""
    settings = ctx.get("settings") or Settings.load()
    ctx["settings"] = settings
    metrics = WorkerMetrics.create()
    ctx["metrics"] = metrics
    port = settings.autorec_worker_metrics_port
    ctx["metrics_server"] = start_metrics_server(metrics.registry, port=port) if port else None
    consumer_redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(settings.redis_url)
    ctx["consumer_redis"] = consumer_redis
    arq_redis = ctx["redis"]

    async def wake_reconcile(channel: str, gen: int) -> None:
        await enqueue_reconcile(arq_redis, channel, gen)

    lo, hi = settings.recorder_uid_range
    consumer = StreamConsumer(
        consumer_redis,
        stream=settings.autorec_events_stream,
        consumer_name=consumer_name(settings),
        rules=default_rules,
        on_changed=wake_reconcile,
        recorder_uids=UidRange(lo, hi),
        dead_letter_after=settings.autorec_dead_letter_after,
        metrics=metrics,
    )
    ctx["consumer"] = consumer
    try:
        await consumer.setup()
    except BaseException:
        await shutdown(ctx)
        raise
    ctx["consumer_task"] = asyncio.create_task(consumer.run(), name="autorec-events-consumer")
    logger.info("events consumer %r reading %r", consumer.name, consumer.stream)


async def shutdown(ctx: WorkerContext) -> None:
    """arq `on_shutdown`: stop the consumer (cancel it if it hangs), close what startup made."""
    consumer = ctx.get("consumer")
    task = ctx.pop("consumer_task", None)
    if consumer is not None:
        consumer.stop()
    if task is not None:
        try:
            await asyncio.wait_for(task, timeout=CONSUMER_STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning("events consumer did not stop in time; cancelled it")
    consumer_redis = ctx.pop("consumer_redis", None)
    if consumer_redis is not None:
        await consumer_redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
    server = ctx.pop("metrics_server", None)
    if server is not None:
        server.close()


class WorkerOptions:
    """arq Worker options that do not depend on the environment."""

    functions: list[Function] = [
        func(
            # A TypedDict ctx is a dict at run time; arq's protocol just cannot say so.
            cast("WorkerCoroutine", reconcile_channel),
            name=RECONCILE_FUNCTION,
            timeout=RECONCILE_TIMEOUT_S,
            keep_result=RECONCILE_KEEP_RESULT_S,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    poll_delay = 0.1
    max_jobs = 50
    job_timeout = 15
    max_tries = 5
    health_check_interval = 15
    job_completion_wait = 20


def worker_settings(settings: Settings) -> dict[str, object]:
    """The complete arq settings for a process configured by `settings`."""
    options = {
        name: value for name, value in vars(WorkerOptions).items() if not name.startswith("_")
    }
    options["redis_settings"] = RedisSettings.from_dsn(settings.redis_url)
    options["ctx"] = {"settings": settings}
    return options


def __getattr__(name: str) -> dict[str, object]:
    """`WorkerSettings`, built from the environment on first access (for the `arq` CLI)."""
    if name == "WorkerSettings":
        return worker_settings(Settings.load())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
