"""The arq worker's composition root: its options, startup (settings, metrics, events
consumer) and shutdown.

arq reads a settings class's own `__dict__`, so the Redis connection cannot be a lazy class
attribute. The pieces are therefore:

- `WorkerOptions`: everything that does not depend on the environment (functions, hooks,
  timings), with default timeouts.
- `worker_settings(settings)`: the complete arq settings (a dict arq accepts) for one
  Settings object: the controller's jobs with their configured timeouts, the
  `reconcile_all` cron, `poll_delay`/`max_jobs` from the settings, `redis_settings` from
  `REDIS_URL` (for a Sentinel set also `redis_pool`, a pool that rides through a failover)
  and the Settings passed in `ctx`.
  `autorec worker` runs `create_worker(settings)`: arq's Worker with these settings, waiting
  for work instead of polling (worker/state/waking_worker.py).
- `WorkerSettings`: `worker_settings(Settings.load())`, built on first access (module
  `__getattr__`), so `arq worker.main.WorkerSettings` works and importing this module reads
  nothing from the environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import Any, Final, cast

import redis.asyncio as aioredis
from arq.cron import CronJob, cron
from arq.typing import WorkerCoroutine
from arq.worker import Function, func, get_kwargs
from redis.exceptions import RedisError

from worker.controller.deps import build_deps, controller_config
from worker.controller.loop import Controller
from worker.controller.metrics import ControllerMetrics, agora_http_client
from worker.controller.recording_events import RecordingEventHandler
from worker.functions import WorkerContext
from worker.functions.reconcile_all import reconcile_all
from worker.functions.reconcile_channel import MAX_TRIES as RECONCILE_CHANNEL_MAX_TRIES
from worker.functions.reconcile_channel import reconcile_channel
from worker.functions.update_recording import KEEP_RESULT_S as UPDATE_KEEP_RESULT_S
from worker.functions.update_recording import MAX_TRIES as UPDATE_MAX_TRIES
from worker.functions.update_recording import update_recording
from worker.ingest.consumer import StreamConsumer
from worker.ingest.normalize import UidRange
from worker.logsetup import configure_logging, log_level
from worker.metrics import WorkerMetrics, start_metrics_server
from worker.notify.service import NotificationDelivery, signer_for
from worker.policies import PolicyError, load_policies
from worker.redis_target import unreachable
from worker.settings import ConfigError, Settings
from worker.state.changes import UPDATE_FUNCTION
from worker.state.connection import WORKER_TIMEOUTS, arq_pool, arq_settings, connect, ping
from worker.state.reconcile_queue import RECONCILE_FUNCTION, enqueue_reconcile
from worker.state.waking_worker import WakingWorker

logger = logging.getLogger(__name__)

#: How long shutdown waits for the consumer to finish its step before cancelling it.
CONSUMER_STOP_TIMEOUT_S: Final = 5.0
#: Runs of one reconcile job (busy-lock retries included).
RECONCILE_MAX_TRIES: Final = RECONCILE_CHANNEL_MAX_TRIES
#: Reconcile job ids are unique per generation; a kept result only dedupes repeats of one.
RECONCILE_KEEP_RESULT_S: Final = 300
#: How long the result of each periodic pass stays readable (queue dashboards list them).
RECONCILE_ALL_KEEP_RESULT_S: Final = 3600


def consumer_name(settings: Settings) -> str:
    """This process's stable stream consumer name: configured, else host name + pid."""
    return settings.autorec_consumer_name or f"{socket.gethostname()}-{os.getpid()}"


async def startup(ctx: WorkerContext) -> None:
    """arq `on_startup`: build Settings once, the controller, metrics and the events consumer.

    Configuration is checked before anything is started: missing Agora credentials, storage
    or a bad policy file stop the worker with one line naming the variable.
    """
    settings = ctx.get("settings") or Settings.load()
    ctx["settings"] = settings
    for warning in settings.warnings():
        logger.warning("%s", warning)
    config = controller_config(settings)
    policies = load_policies(
        settings.autorec_policy_file, default_grace_s=settings.autorec_empty_grace_s
    )
    metrics = WorkerMetrics.create()
    ctx["metrics"] = metrics
    controller_metrics = ControllerMetrics.create(metrics.registry)
    http = agora_http_client(controller_metrics)
    ctx["http"] = http
    arq_redis = ctx["redis"]
    deps = build_deps(
        settings,
        arq=arq_redis,
        http=http,
        config=config,
        policies=policies,
        metrics=controller_metrics,
    )
    controller = Controller(deps)
    ctx["controller"] = controller
    port = settings.autorec_worker_metrics_port
    ctx["metrics_server"] = (
        start_metrics_server(metrics.registry, port=port, host=settings.autorec_worker_metrics_host)
        if port
        else None
    )
    consumer_redis: aioredis.Redis[bytes] = connect(settings.redis_target, WORKER_TIMEOUTS)
    ctx["consumer_redis"] = consumer_redis

    async def wake_reconcile(channel: str, gen: int) -> None:
        await enqueue_reconcile(arq_redis, channel, gen)

    lo, hi = settings.recorder_uid_range
    consumer = StreamConsumer(
        consumer_redis,
        stream=settings.autorec_events_stream,
        consumer_name=consumer_name(settings),
        rules=deps.rules,
        on_changed=wake_reconcile,
        on_recording_event=RecordingEventHandler(controller.effects).handle,
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
    ctx["notify"] = NotificationDelivery.start(consumer_redis, settings, metrics.registry)
    logger.info(
        "events consumer %r reading %r; policies from %s",
        consumer.name,
        consumer.stream,
        policies.source or "the built-in default",
    )


async def shutdown(ctx: WorkerContext) -> None:
    """arq `on_shutdown`: stop the consumer (cancel it if it hangs), close what startup made."""
    delivery = ctx.pop("notify", None)
    if delivery is not None:
        await delivery.stop()
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
    http = ctx.pop("http", None)
    if http is not None:
        await http.aclose()
    server = ctx.pop("metrics_server", None)
    if server is not None:
        server.close()


def reconcile_schedule(interval_s: float) -> dict[str, set[int]]:
    """arq cron fields that run `reconcile_all` about every `interval_s` seconds.

    Below a minute: the seconds of a minute that are multiples of the interval (rounded to
    whole seconds; an interval that does not divide 60 has one shorter gap per minute).
    From a minute: whole minutes, likewise.
    """
    seconds = max(1, round(interval_s))
    if seconds < 60:
        return {"second": set(range(0, 60, seconds))}
    minutes = min(60, max(1, round(seconds / 60)))
    return {"minute": set(range(0, 60, minutes)), "second": {0}}


def controller_functions(
    *, timeout_s: float, interval_s: float
) -> tuple[list[Function], list[CronJob]]:
    """The controller's jobs (timeouts of `timeout_s`): `reconcile_channel` and
    `update_recording`, and the `reconcile_all` cron."""
    functions = [
        func(
            # A TypedDict ctx is a dict at run time; arq's protocol just cannot say so.
            cast("WorkerCoroutine", reconcile_channel),
            name=RECONCILE_FUNCTION,
            timeout=timeout_s,
            keep_result=RECONCILE_KEEP_RESULT_S,
            max_tries=RECONCILE_MAX_TRIES,
        ),
        func(
            cast("WorkerCoroutine", update_recording),
            name=UPDATE_FUNCTION,
            timeout=timeout_s,
            keep_result=UPDATE_KEEP_RESULT_S,
            max_tries=UPDATE_MAX_TRIES,
        ),
    ]
    crons = [
        cron(
            cast("WorkerCoroutine", reconcile_all),
            name="reconcile_all",
            **reconcile_schedule(interval_s),  # type: ignore[arg-type]
            run_at_startup=True,
            unique=True,
            timeout=timeout_s,
            keep_result=RECONCILE_ALL_KEEP_RESULT_S,
        )
    ]
    return functions, crons


class WorkerOptions:
    """arq Worker options that do not depend on the environment."""

    functions: list[Function] = controller_functions(timeout_s=60, interval_s=30)[0]
    on_startup = startup
    on_shutdown = shutdown
    poll_delay = 0.05
    max_jobs = 100
    job_timeout = 60
    max_tries = 5
    health_check_interval = 15
    #: Below the compose file's stop_grace_period (40 s): running jobs finish before a kill.
    job_completion_wait = 30


def worker_settings(settings: Settings) -> dict[str, object]:
    """The complete arq settings for a process configured by `settings`."""
    options = {
        name: value for name, value in vars(WorkerOptions).items() if not name.startswith("_")
    }
    functions, crons = controller_functions(
        timeout_s=settings.autorec_reconcile_timeout_s,
        interval_s=settings.autorec_reconcile_interval_s,
    )
    options["functions"] = functions
    options["cron_jobs"] = crons
    options["poll_delay"] = settings.autorec_poll_delay_s
    options["max_jobs"] = settings.autorec_max_jobs
    options["job_timeout"] = settings.autorec_reconcile_timeout_s
    target = settings.redis_target
    options["redis_settings"] = arq_settings(target)
    if target.is_sentinel:
        # arq's own Sentinel pool has no timeouts or failover retries (worker/state/connection.py).
        options["redis_pool"] = arq_pool(target, WORKER_TIMEOUTS)
    options["ctx"] = {"settings": settings}
    return options


def create_worker(settings: Settings, *, burst: bool = False, **options: Any) -> WakingWorker:
    """The worker `autorec worker` runs: arq's, waiting for work instead of polling
    (`options`: further arq Worker options, e.g. `handle_signals`)."""
    return WakingWorker(
        **get_kwargs(worker_settings(settings)),
        burst=burst,
        idle_check_s=settings.autorec_idle_check_s,
        **options,
    )


def check_configuration(settings: Settings) -> None:
    """What the worker's startup would refuse, said before it connects to Redis: missing
    Agora credentials or storage, a bad policy file (ConfigError naming the variable)."""
    controller_config(settings)
    signer_for(settings)
    try:
        load_policies(settings.autorec_policy_file, default_grace_s=settings.autorec_empty_grace_s)
    except PolicyError as exc:
        raise ConfigError(f"AUTOREC_POLICY_FILE: {exc}") from None


async def _startup_with_logging(ctx: WorkerContext) -> None:
    """`startup` for a worker run by arq's own command line: first the service's logging
    (one format, secrets redacted) in place of arq's."""
    settings = ctx["settings"]
    configure_logging(log_level(settings.autorec_log_level), settings.secret_values())
    await startup(ctx)


def __getattr__(name: str) -> dict[str, object]:
    """`WorkerSettings`, built from the environment on first access (for the `arq` CLI).

    A bad configuration is one line on stderr and exit status 2, as for `autorec worker`.
    """
    if name == "WorkerSettings":
        try:
            settings = Settings.load()
            log_level(settings.autorec_log_level)
            check_configuration(settings)
        except ConfigError as exc:
            print(f"autorec: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        try:
            # Before arq's pool, which logs a warning per retry and then a traceback.
            asyncio.run(ping(settings.redis_target))
        except (RedisError, OSError) as exc:
            print(f"autorec: error: {unreachable(settings.redis_url, exc)}", file=sys.stderr)
            raise SystemExit(1) from None
        options = worker_settings(settings)
        options["on_startup"] = _startup_with_logging
        return options
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
