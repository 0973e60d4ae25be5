"""What `autorec dev` runs: embedded Redis, the sandbox, the webhook service and a worker.

`plan_dev()` turns the settings and the command-line options into the supervisor's children,
wired together through their environment: the Redis URL, the Agora credentials (the
sandbox's, generated per run, unless real ones are configured), the NCS secret and ports,
and — unless configured — an API token and an events secret generated per run, so
`/api/v1` and `/webhooks/events` work at once (the summary table shows both and how to use
them).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Table

from worker.dev.credentials import ApiSecrets, api_secrets, sandbox_credentials, sandbox_storage
from worker.dev.readiness import http_ready, redis_ready
from worker.dev.redis_server import find_redis_server, free_port
from worker.dev.run import ChildSpec
from worker.ports import check_port_free
from worker.settings import ConfigError, Settings, redact_url

LOOPBACK = "127.0.0.1"
_AGORA_CREDENTIALS = ("agora_app_id", "agora_customer_id", "agora_customer_secret")
_STORAGE = (
    "storage_vendor", "storage_region", "storage_bucket", "storage_access_key",
    "storage_secret_key", "storage_endpoint",
)  # fmt: skip


@dataclass(frozen=True)
class DevOptions:
    """Command-line choices of `autorec dev`; a port of 0 means any free port."""

    host: str = LOOPBACK
    port: int = 8000
    sandbox: bool | None = None
    """True: always the sandbox; False: real Agora (credentials required); None: decide."""
    sandbox_port: int = 0
    redis_port: int = 0
    metrics_port: int = 0
    demo: bool = False
    """Simulate channels that fill and empty (`worker.dev.demo`); needs the sandbox."""


#: Times in a row `autorec dev` starts an exited worker again (after 1, 2, 4, 8, 16 s).
WORKER_RESTARTS = 5

#: Empty-channel grace of a demo unless AUTOREC_EMPTY_GRACE_S is set: short enough to watch.
DEMO_GRACE_S = 5


@dataclass(frozen=True)
class Endpoint:
    """One row of the summary: a child and where it can be reached."""

    name: str
    address: str
    note: str


@dataclass(frozen=True)
class DevStack:
    """The children to supervise, in start order, and the summary rows."""

    children: list[ChildSpec]
    endpoints: list[Endpoint]
    hints: list[str] = field(default_factory=list)
    """Lines printed under the summary table: how to use what runs."""


def uses_sandbox(settings: Settings, forced: bool | None) -> bool:
    """Whether to run the sandbox: as forced, else when no Agora credential is configured.

    Raises ConfigError when real Agora is wanted (or half configured) and a credential is
    missing.
    """
    if forced is True:
        return True
    configured = [name for name in _AGORA_CREDENTIALS if getattr(settings, name)]
    if forced is None and not configured:
        return True
    try:
        settings.require_agora()
    except ConfigError as exc:
        hint = "" if forced is False else " (or unset all Agora credentials to use the sandbox)"
        raise ConfigError(f"{exc}{hint}") from None
    return False


def plan_dev(
    settings: Settings, options: DevOptions, *, base_env: Mapping[str, str], data_dir: Path
) -> DevStack:
    """The children of `autorec dev`, wired together; raises ConfigError on a busy port."""
    check_port_free(options.host, options.port, "--port")
    env = {**base_env, "PYTHONUNBUFFERED": "1"}
    children: list[ChildSpec] = []
    endpoints: list[Endpoint] = []

    if "redis_url" in settings.model_fields_set:
        env["REDIS_URL"] = settings.redis_url
        endpoints.append(Endpoint("redis", redact_url(settings.redis_url), "REDIS_URL"))
    else:
        redis_port = _port(options.redis_port, "--redis-port")
        env["REDIS_URL"] = f"redis://{LOOPBACK}:{redis_port}/0"
        children.append(_redis_child(redis_port, data_dir, base_env))
        endpoints.append(Endpoint("redis", env["REDIS_URL"], "embedded, temporary"))

    webhooks_url = f"http://{_display_host(options.host)}:{options.port}"
    ready = http_ready(f"{webhooks_url}/readyz")
    sandbox_url: str | None = None
    if options.demo:
        if options.sandbox is False or not uses_sandbox(settings, options.sandbox):
            raise ConfigError(
                "--demo simulates channels in the sandbox; it cannot run on real Agora "
                "(add --sandbox to use the sandbox anyway)"
            )
        if "autorec_empty_grace_s" not in settings.model_fields_set:
            env["AUTOREC_EMPTY_GRACE_S"] = str(DEMO_GRACE_S)
    if uses_sandbox(settings, options.sandbox):
        sandbox_port = _port(options.sandbox_port, "--sandbox-port")
        sandbox_url = f"http://{LOOPBACK}:{sandbox_port}"
        credentials = sandbox_credentials()
        env.update(credentials)
        env["AGORA_API_URLS"] = sandbox_url
        if not any(getattr(settings, name) is not None for name in _STORAGE):
            env.update(sandbox_storage())
        ncs_url = f"{webhooks_url}/webhooks/agora"
        children.append(_sandbox_child(sandbox_port, ncs_url, credentials, base_env))
        endpoints.append(Endpoint("sandbox", sandbox_url, "Agora stand-in"))
    else:
        endpoints.append(Endpoint("agora", ", ".join(settings.agora_api_urls), "real Agora"))

    generated = api_secrets(settings)
    env.update(generated.env())

    argv = [sys.executable, "-m", "worker.cli.main", "webhooks"]
    argv += ["--host", options.host, "--port", str(options.port)]
    children.append(ChildSpec("webhooks", argv, env=env, ready_check=ready))
    endpoints.append(Endpoint("webhooks", webhooks_url, "/webhooks/{agora,events}"))
    endpoints.extend(_api_endpoints(webhooks_url, generated))

    metrics_port = _port(options.metrics_port, "--metrics-port")
    worker_env = {
        **env,
        "AUTOREC_WORKER_METRICS_PORT": str(metrics_port),
        "AUTOREC_WORKER_METRICS_HOST": LOOPBACK,
    }
    ready = http_ready(f"http://{LOOPBACK}:{metrics_port}/metrics")
    argv = [sys.executable, "-m", "worker.cli.main", "worker"]
    # A worker exits when Redis drops its connection; like compose's restart policy, start
    # it again rather than end the whole run (Redis itself is never restarted: it keeps
    # nothing, so its exit ends the run).
    children.append(
        ChildSpec("worker", argv, env=worker_env, ready_check=ready, restarts=WORKER_RESTARTS)
    )
    endpoints.append(Endpoint("worker", f"http://{LOOPBACK}:{metrics_port}/metrics", "metrics"))

    if options.demo and sandbox_url is not None:
        argv = [sys.executable, "-m", "worker.dev.demo", "--sandbox-url", sandbox_url]
        children.append(ChildSpec("demo", argv, env={**base_env, "PYTHONUNBUFFERED": "1"}))
        recordings = f"{sandbox_url}/_sandbox/recordings"
        endpoints.append(Endpoint("demo", recordings, "simulated channels demo-*"))
    return DevStack(
        children, endpoints, _hints(webhooks_url, generated, settings.autorec_events_stream)
    )


def summary_table(stack: DevStack, pids: Mapping[str, int]) -> Table:
    """The table printed once everything is ready."""
    table = Table(
        title="autorec dev is running (Ctrl-C stops everything)",
        title_justify="left",
        box=box.SIMPLE,
    )
    table.add_column("service")
    table.add_column("pid", justify="right")
    table.add_column("address", no_wrap=True)
    table.add_column("")
    for endpoint in stack.endpoints:
        pid = pids.get(endpoint.name)
        table.add_row(endpoint.name, str(pid or "—"), endpoint.address, endpoint.note)
    return table


def print_summary(console: Console, stack: DevStack, pids: Mapping[str, int]) -> None:
    """Print `summary_table` and the hints under it whole: wider than the console (say,
    output to a pipe, 80 columns) rather than wrap or cut an address, a note or a command."""
    table = summary_table(stack, pids)
    needed = Measurement.get(console, console.options.update_width(1000), table).maximum
    options = console.options.update_width(max(console.width, needed))
    for line in console.render_lines(table, options, pad=False):
        console.print(Segments([*line, Segment.line()]), soft_wrap=True)
    for hint in stack.hints:
        console.print(hint, soft_wrap=True, highlight=False, markup=False)


def _redis_child(port: int, data_dir: Path, base_env: Mapping[str, str]) -> ChildSpec:
    argv = [
        find_redis_server(),
        "--port", str(port),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--maxmemory-policy", "noeviction",
        "--loglevel", "warning",
    ]  # fmt: skip
    return ChildSpec("redis", argv, env=dict(base_env), ready_check=redis_ready(LOOPBACK, port))


def _sandbox_child(
    port: int, ncs_url: str, credentials: Mapping[str, str], base_env: Mapping[str, str]
) -> ChildSpec:
    # Secrets travel in the environment, not in argv, where any local user could read them.
    env = {
        **base_env,
        "PYTHONUNBUFFERED": "1",
        "SANDBOX_APP_ID": credentials["AGORA_APP_ID"],
        "SANDBOX_APP_CERTIFICATE": credentials["AGORA_APP_CERTIFICATE"],
        "SANDBOX_CUSTOMER_ID": credentials["AGORA_CUSTOMER_ID"],
        "SANDBOX_CUSTOMER_SECRET": credentials["AGORA_CUSTOMER_SECRET"],
        "SANDBOX_NCS_SECRET": credentials["AGORA_NCS_SECRET"],
    }
    argv = [sys.executable, "-m", "sandbox", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--ncs-url", ncs_url]
    ready = http_ready(f"http://{LOOPBACK}:{port}/_sandbox/stats")
    return ChildSpec("sandbox", argv, env=env, ready_check=ready)


def _api_endpoints(webhooks_url: str, generated: ApiSecrets) -> list[Endpoint]:
    """The summary rows of the API and the events webhook, with the secret each needs."""
    token, secret = generated.api_token, generated.events_secret
    return [
        Endpoint(
            "api",
            f"{webhooks_url}/api/v1",
            f"AUTOREC_API_TOKEN={token}" if token else "AUTOREC_API_TOKEN as configured",
        ),
        Endpoint(
            "events",
            f"{webhooks_url}/webhooks/events",
            f"AUTOREC_EVENTS_SECRET={secret}" if secret else "AUTOREC_EVENTS_SECRET as configured",
        ),
    ]


def _hints(webhooks_url: str, generated: ApiSecrets, events_stream: str) -> list[str]:
    """How to call the API and send app events with this run's secrets."""
    token = generated.api_token or "$AUTOREC_API_TOKEN"
    return [
        f"  Try the API: curl -H 'Authorization: Bearer {token}' {webhooks_url}/api/v1/status",
        "  App events: POST to /webhooks/events signed with AUTOREC_EVENTS_SECRET "
        f"(Standard Webhooks), or XADD to the Redis Stream {events_stream}",
    ]


def _port(requested: int, flag: str) -> int:
    if requested == 0:
        return free_port()
    check_port_free(LOOPBACK, requested, flag)
    return requested


def _display_host(host: str) -> str:
    """The host of a URL that reaches a server bound to `host` from this machine."""
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - compared, not bound
        return LOOPBACK
    return f"[{host}]" if ":" in host else host
