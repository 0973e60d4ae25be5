"""The worker's composition root: startup wires the consumer to arq; shutdown leaves nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

import httpx
import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

import worker.main
from tests.support.events import STREAM, add, app_event
from tests.support.waiting import eventually
from worker.dev.redis_server import free_port
from worker.functions import WorkerContext
from worker.main import WorkerOptions, controller_functions, shutdown, startup, worker_settings
from worker.redis_target import parse_redis_url
from worker.settings import Settings
from worker.state.connection import arq_settings


def settings_for(redis_url: str, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "redis_url": redis_url,
        "autorec_events_stream": STREAM,
        "autorec_worker_metrics_port": 0,
        "autorec_consumer_name": "test-worker",
        "agora_app_id": "5a4d5a1a1b5c4e1f9f3a7c2b8d6e0f11",
        "agora_customer_id": "customer",
        "agora_customer_secret": "customer-secret",
        "agora_api_urls": "http://127.0.0.1:9",
        "storage_vendor": 1,
        "storage_region": 0,
        "storage_bucket": "bucket",
        "storage_access_key": "access-key",
        "storage_secret_key": "secret-key",
    }
    return Settings(**{**options, **overrides})  # type: ignore[arg-type]


CUSTOMER_SECRET: Final = "customer-secret-value"
#: A line of the service's log format: `2026-01-01 10:00:00,123 INFO name: message`.
SERVICE_LINE: Final = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


async def queued_jobs(pool: ArqRedis) -> list[str]:
    return [member.decode() for member in await pool.zrange("arq:queue", 0, -1)]


async def test_startup_consumes_events_and_enqueues_one_reconcile_per_flip(
    arq_pool: ArqRedis, redis_url: str
) -> None:
    ctx: WorkerContext = {"redis": arq_pool, "settings": settings_for(redis_url)}
    await startup(ctx)
    try:
        await add(arq_pool, "event", app_event("user.joined", "room-1", 1, seq=1))
        await add(arq_pool, "event", app_event("user.left", "room-1", 1, seq=2))

        async def both_enqueued() -> bool:
            return len(await queued_jobs(arq_pool)) == 2

        await eventually(both_enqueued)
        assert sorted(await queued_jobs(arq_pool)) == ["reconcile:room-1:1", "reconcile:room-1:2"]
    finally:
        await shutdown(ctx)


async def test_shutdown_stops_the_consumer_and_leaves_no_task_running(
    arq_pool: ArqRedis, redis_url: str
) -> None:
    ctx: WorkerContext = {"redis": arq_pool, "settings": settings_for(redis_url)}
    await startup(ctx)
    task = ctx["consumer_task"]
    await shutdown(ctx)
    assert task.done()
    assert not task.cancelled()  # it stopped by itself, within the timeout
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_metrics_are_served_on_the_configured_port_until_shutdown(
    arq_pool: ArqRedis, redis_url: str
) -> None:
    port = free_port()
    ctx: WorkerContext = {
        "redis": arq_pool,
        "settings": settings_for(redis_url, autorec_worker_metrics_port=port),
    }
    await startup(ctx)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert "autorec_events_dead_lettered_total" in response.text
        for controller_metric in (
            "autorec_agora_requests_total",
            "autorec_recordings_started_total",
            "autorec_reconcile_drift_total",
            "autorec_jobs_total",
        ):
            assert f"# TYPE {controller_metric} counter" in response.text
    finally:
        await shutdown(ctx)
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/metrics")


async def test_metrics_listen_on_the_configured_host_with_the_process_metrics(
    arq_pool: ArqRedis, redis_url: str
) -> None:
    port = free_port()
    settings = settings_for(
        redis_url, autorec_worker_metrics_port=port, autorec_worker_metrics_host="127.0.0.1"
    )
    ctx: WorkerContext = {"redis": arq_pool, "settings": settings}
    await startup(ctx)
    try:
        server = ctx["metrics_server"]
        assert server is not None
        assert server.host == "127.0.0.1"
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "# TYPE process_cpu_seconds_total counter" in text
        assert "python_info{" in text
    finally:
        await shutdown(ctx)


async def test_a_max_api_qps_above_agoras_default_is_logged_once_at_start(
    arq_pool: ArqRedis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(redis_url, autorec_max_api_qps=50)
    ctx: WorkerContext = {"redis": arq_pool, "settings": settings}
    with caplog.at_level(logging.WARNING, logger="worker.main"):
        await startup(ctx)
    await shutdown(ctx)
    warnings = [r.getMessage() for r in caplog.records if "AUTOREC_MAX_API_QPS" in r.getMessage()]
    assert len(warnings) == 1
    assert "above Agora's default limit of 10" in warnings[0]


async def test_port_zero_disables_the_metrics_server(arq_pool: ArqRedis, redis_url: str) -> None:
    ctx: WorkerContext = {"redis": arq_pool, "settings": settings_for(redis_url)}
    await startup(ctx)
    try:
        assert ctx["metrics_server"] is None
    finally:
        await shutdown(ctx)


def test_worker_settings_connect_arq_to_redis_url_and_pass_the_settings() -> None:
    settings = Settings(redis_url="redis://cache.internal:6390/2")
    options = worker_settings(settings)
    redis_settings = options["redis_settings"]
    assert isinstance(redis_settings, RedisSettings)
    assert (redis_settings.host, redis_settings.port, redis_settings.database) == (
        "cache.internal",
        6390,
        2,
    )
    assert options["ctx"] == {"settings": settings}
    jobs = ["reconcile_channel", "update_recording"]
    assert [f.name for f in WorkerOptions.functions] == jobs
    assert [f.name for f in options["functions"]] == jobs  # type: ignore[attr-defined]
    assert [c.name for c in options["cron_jobs"]] == ["reconcile_all"]  # type: ignore[attr-defined]
    assert (options["poll_delay"], options["health_check_interval"]) == (0.05, 15)


def test_the_arq_cli_attribute_is_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    for name, value in cli_env(redis_url).items():
        monkeypatch.setenv(name, value)
    options = worker.main.WorkerSettings
    assert options["redis_settings"] == arq_settings(parse_redis_url(redis_url))
    assert options["on_startup"] is not startup  # arq's CLI: the service's logging first


def cli_env(redis_url: str) -> dict[str, str]:
    """A complete worker configuration as environment variables."""
    settings = settings_for(redis_url)
    return {
        "REDIS_URL": redis_url,
        "AUTOREC_EVENTS_STREAM": STREAM,
        "AUTOREC_WORKER_METRICS_PORT": "0",
        "AGORA_APP_ID": str(settings.agora_app_id),
        "AGORA_CUSTOMER_ID": "customer",
        "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET,
        "AGORA_API_URLS": "http://127.0.0.1:9",
        "STORAGE_VENDOR": "1",
        "STORAGE_REGION": "0",
        "STORAGE_BUCKET": "bucket",
        "STORAGE_ACCESS_KEY": "access-key",
        "STORAGE_SECRET_KEY": "secret-key",
    }


def run_arq_cli(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`arq --burst worker.main.WorkerSettings` with only `env` (and PATH) set."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("arq")), "--burst", "worker.main.WorkerSettings"],
        env={"PATH": os.environ["PATH"], **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_arq_cli_with_a_missing_setting_prints_one_line_naming_it(tmp_path: Path) -> None:
    env = cli_env("redis://127.0.0.1:9/0")
    del env["AGORA_CUSTOMER_ID"]
    result = run_arq_cli(env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("autorec: configuration error: AGORA_CUSTOMER_ID")


def test_the_arq_cli_logs_in_the_service_format_and_never_prints_a_secret(
    redis: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    result = run_arq_cli(cli_env(redis_url), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    ours = [line for line in lines if SERVICE_LINE.match(line)]
    assert any(" worker.controller.sweep: reconcile_all" in line for line in ours), result.stderr
    # arq's own lines after startup come through the same handler.
    assert any(" arq.worker: " in line for line in ours), result.stderr
    assert CUSTOMER_SECRET not in result.stderr


def test_any_other_missing_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = worker.main.NoSuchThing


# arq 0.28 closes its pool with redis-py's deprecated `close()`.
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_an_arq_worker_built_from_the_settings_starts_and_stops_cleanly(
    redis: aioredis.Redis, redis_url: str
) -> None:
    options = {**worker_settings(settings_for(redis_url)), "burst": True, "poll_delay": 0}
    arq_worker = Worker(**options, handle_signals=False)  # type: ignore[arg-type]
    await arq_worker.main()
    assert "consumer" in arq_worker.ctx
    await arq_worker.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_the_periodic_pass_keeps_its_result_for_queue_dashboards() -> None:
    _, (cron_job,) = controller_functions(timeout_s=60, interval_s=30)
    assert cron_job.keep_result_s is not None
    assert cron_job.keep_result_s >= 600
