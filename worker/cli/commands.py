"""What each `autorec` sub-command does, once its arguments are parsed (see `worker.cli.main`).

Every function is a composition root: it reads the settings once and raises ConfigError
(one line naming the variable) on a bad configuration.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

from pydantic import SecretStr

from worker.logsetup import configure_logging, log_level
from worker.redis_target import unreachable
from worker.settings import ConfigError, Settings, redact_url

if TYPE_CHECKING:
    from arq.connections import RedisSettings

    from worker.agora.token import RtcRole
    from worker.cli.status import StatusReport
    from worker.dev.stack import DevOptions

_UVICORN_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def run_dev(options: DevOptions, *, grace_s: float) -> int:
    """Run Redis, the sandbox, the webhook service and a worker until stopped."""
    from worker.dev.run import Supervisor
    from worker.dev.stack import plan_dev, print_summary, uses_sandbox
    from worker.main import check_configuration

    settings = Settings.load()
    if not uses_sandbox(settings, options.sandbox):
        # Real Agora: the worker's own configuration, refused here in one line rather
        # than by the worker child once everything else has started.
        check_configuration(settings)
    if "redis_url" in settings.model_fields_set:
        from redis.exceptions import RedisError

        try:
            asyncio.run(_ping_redis(settings))
        except (RedisError, OSError) as exc:
            _redis_unreachable(settings.redis_url, exc)
            return 1
    with tempfile.TemporaryDirectory(prefix="autorec-dev-") as data_dir:
        stack = plan_dev(settings, options, base_env=dict(os.environ), data_dir=Path(data_dir))
        supervisor = Supervisor(stack.children, grace_s=grace_s)

        def show_summary() -> None:
            print_summary(supervisor.console, stack, supervisor.pids)

        return asyncio.run(supervisor.run(on_ready=show_summary))


def run_webhooks(
    *,
    host: str,
    port: int,
    graceful_shutdown_s: int,
    limit_concurrency: int | None,
    access_log: bool,
) -> int:
    """Serve the webhook service in this process until SIGINT/SIGTERM."""
    import uvicorn

    from worker.logsetup import uvicorn_log_config
    from worker.ports import check_port_free

    settings = Settings.load()
    level = uvicorn_level(settings.autorec_log_level)
    check_port_free(host, port, "--port")
    # Named by import string: the worker package never imports the HTTP edge.
    uvicorn.run(
        "webhooks.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=uvicorn_log_config(level, settings.secret_values()),
        log_level=level,
        access_log=access_log,
        timeout_graceful_shutdown=graceful_shutdown_s,
        limit_concurrency=limit_concurrency,
    )
    return 0


def run_worker(*, burst: bool, check: bool) -> int:
    """Run one arq worker until SIGINT/SIGTERM; with `check`, report the queue's health."""
    from worker.main import check_configuration, create_worker, worker_settings

    settings = Settings.load()
    level = log_level(settings.autorec_log_level)
    if not check:
        check_configuration(settings)

    from arq.worker import async_check_health
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    configure_logging(level, settings.secret_values())
    options = worker_settings(settings)
    try:
        if check:
            # One PING first: arq's pool would log a warning per retry before giving up.
            asyncio.run(_ping_redis(settings))
            return asyncio.run(
                async_check_health(
                    cast("RedisSettings", options["redis_settings"]),
                    cast("str | None", options.get("health_check_key")),
                    cast("str | None", options.get("queue_name")),
                )
            )
        create_worker(settings, burst=burst).run()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        _redis_unreachable(settings.redis_url, exc)
        return 1
    return 0


async def _ping_redis(settings: Settings) -> None:
    """PING the Redis of REDIS_URL; raises what the client raises when it cannot."""
    from worker.state.connection import ping

    await ping(settings.redis_target)


def _redis_unreachable(url: str, exc: BaseException) -> None:
    """One line on stderr: Redis at `url` (without its password) cannot be reached."""

    print(f"autorec: error: {unreachable(url, exc)}", file=sys.stderr)


def run_status(*, as_json: bool, failures: int) -> int:
    """Print the recording slots, waiting channels, recordings and recent failures.

    Redis unreachable (or refusing us) is one line on stderr and exit status 1.
    """
    from redis.exceptions import RedisError

    from worker.cli.status import read_status, render_status, status_console, status_json
    from worker.state.connection import COMMAND_TIMEOUTS, connect

    settings = Settings.load()
    try:
        client = connect(settings.redis_target, COMMAND_TIMEOUTS)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc}") from None

    async def read() -> StatusReport:
        try:
            return await read_status(client, settings, failures=failures)
        finally:
            await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5

    try:
        report = asyncio.run(read())
    except (RedisError, OSError) as exc:
        message = unreachable(settings.redis_url, exc, verb="read")
        print(f"autorec: error: {message}", file=sys.stderr)
        return 1
    if as_json:
        print(status_json(report))
    else:
        console = status_console()
        console.print(redis_source(settings), soft_wrap=True)
        render_status(report, console)
    return 0


def redis_source(settings: Settings) -> str:
    """Which Redis a command read, its password hidden, and whether REDIS_URL named it."""
    where = redact_url(settings.redis_url)
    if "redis_url" in settings.model_fields_set:
        return f"Redis {where} (REDIS_URL)"
    return f"Redis {where} (REDIS_URL is not set: the default)"


def exec_sandbox(arguments: Sequence[str]) -> NoReturn:
    """Replace this process by `python -m sandbox ARGUMENTS`, given this configuration's
    Agora credentials unless `SANDBOX_*` variables say otherwise."""
    settings = Settings.load()
    env = dict(os.environ)
    # Secrets travel in the environment, where other local users cannot read them.
    for variable, value in (
        ("SANDBOX_APP_ID", settings.agora_app_id),
        ("SANDBOX_CUSTOMER_ID", settings.agora_customer_id),
        ("SANDBOX_CUSTOMER_SECRET", settings.agora_customer_secret),
        ("SANDBOX_APP_CERTIFICATE", settings.agora_app_certificate),
        ("SANDBOX_NCS_SECRET", settings.agora_ncs_secret),
    ):
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain and variable not in env:
            env[variable] = plain
    env["SANDBOX_PROG"] = "autorec sandbox"
    # A separate program, not an import: the worker package never imports the sandbox.
    argv = [sys.executable, "-m", "sandbox", *arguments]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # noqa: S606 - fixed program, arguments passed through


def make_token(
    *,
    channel: str,
    uid: int,
    role: RtcRole,
    expire_s: int,
    issue_ts: int | None = None,
    salt: int | None = None,
    app_id: str | None = None,
    app_certificate: str | None = None,
) -> str:
    """An AccessToken2 RTC token; the app id and certificate default to the settings'."""
    from worker.agora.token import build_rtc_token

    overrides = {
        name: value
        for name, value in (("agora_app_id", app_id), ("agora_app_certificate", app_certificate))
        if value is not None
    }
    settings = Settings.load(**overrides)
    if not settings.agora_app_id:
        raise ConfigError("AGORA_APP_ID is required to build a token (or pass --app-id)")
    if settings.agora_app_certificate is None:
        raise ConfigError(
            "AGORA_APP_CERTIFICATE is required to build a token (or pass --app-certificate)"
        )
    try:
        return build_rtc_token(
            settings.agora_app_id,
            settings.agora_app_certificate.get_secret_value(),
            channel,
            uid,
            role,
            expire_s,
            expire_s,
            issue_ts=issue_ts,
            salt=salt,
        )
    except ValueError as exc:
        raise ConfigError(_token_error(str(exc))) from None


def _token_error(message: str) -> str:
    """The builder's message, in the names of the variables the user knows."""
    for argument, variable in (
        ("app_certificate", "AGORA_APP_CERTIFICATE"),
        ("app_id", "AGORA_APP_ID"),
    ):
        if message.startswith(argument):
            return variable + ":" + message.removeprefix(argument)
    return message


def uvicorn_level(level: str) -> str:
    """AUTOREC_LOG_LEVEL as uvicorn's `log_level`."""
    lowered = level.strip().lower()
    if lowered not in _UVICORN_LEVELS:
        raise ConfigError(f"AUTOREC_LOG_LEVEL: must be one of {', '.join(_UVICORN_LEVELS)}")
    return lowered
