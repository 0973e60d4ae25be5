"""docker-compose.yml, Dockerfile and .env.example: valid, wired as documented, and each
service's command comes up healthy as a local process (no Docker engine needed)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.waiting import eventually
from worker.dev.redis_server import RedisServer, free_port
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent
APP_SERVICES = ("webhooks", "worker", "sandbox")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _duration_s(text: str) -> float:
    """A compose duration (`1m30s`, `40s`, `500ms`) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    assert "".join(n + u for n, u in parts) == text, f"not a duration: {text}"
    return sum(float(n) * units[u] for n, u in parts)


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = variables.get(name)
        if operator in (":-", "-"):
            return value if value else argument
        if operator in (":?", "?") and not value:
            raise AssertionError(f"compose needs {name}: {argument}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


# --- the file itself -----------------------------------------------------------------


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_redis_keeps_an_everysec_append_only_file_and_never_evicts() -> None:
    command = _service("redis")["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"


def test_redis_data_lives_on_a_named_volume() -> None:
    assert "redis-data:/data" in _service("redis")["volumes"]
    assert "redis-data" in _compose()["volumes"]


def test_redis_is_healthy_only_when_it_answers_pong() -> None:
    assert _service("redis")["healthcheck"]["test"] == [
        "CMD-SHELL",
        "redis-cli ping | grep -q PONG",
    ]


def test_redis_publishes_no_port() -> None:
    assert "ports" not in _service("redis")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_start_once_redis_is_healthy(name: str) -> None:
    assert _service(name)["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_read_their_secrets_from_the_env_file(name: str) -> None:
    assert _service(name)["env_file"] == ".env"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_reach_redis_by_its_service_name(name: str) -> None:
    assert "@redis:6379/" in _service(name)["environment"]["REDIS_URL"]


@pytest.mark.parametrize("name", [*APP_SERVICES, "redis"])
def test_every_service_has_a_healthcheck_and_an_exec_form_command(name: str) -> None:
    service = _service(name)
    assert isinstance(service["command"], list)
    assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")


def test_the_worker_runs_two_replicas_without_a_container_name() -> None:
    worker = _service("worker")
    assert worker["deploy"]["replicas"] == 2
    assert "container_name" not in worker


def test_the_worker_stop_grace_period_exceeds_its_job_completion_wait() -> None:
    from worker.main import worker_settings

    options = worker_settings(Settings(_env_file=None))
    completion_wait_s = float(options["job_completion_wait"])
    assert _duration_s(_service("worker")["stop_grace_period"]) > completion_wait_s


def test_the_webhooks_stop_grace_period_exceeds_its_graceful_shutdown() -> None:
    from worker.cli.main import build_parser

    command = _service("webhooks")["command"]
    graceful_s = build_parser().parse_args(command[1:]).graceful_shutdown_s
    assert _duration_s(_service("webhooks")["stop_grace_period"]) > graceful_s


def test_the_sandbox_and_the_monitoring_run_only_under_their_profiles() -> None:
    services = _compose()["services"]
    profiled = {
        name: service["profiles"] for name, service in services.items() if "profiles" in service
    }
    assert profiled == {
        "sandbox": ["sandbox"],
        "prometheus": ["monitoring"],
        "grafana": ["monitoring"],
    }


def test_a_plain_compose_up_still_runs_redis_the_webhook_service_and_the_workers() -> None:
    services = _compose()["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "redis",
        "webhooks",
        "worker",
    }


MONITORING = ("prometheus", "grafana")


@pytest.mark.parametrize("name", MONITORING)
def test_monitoring_images_are_pinned_by_tag(name: str) -> None:
    image = _service(name)["image"]
    repository, _, tag = image.rpartition(":")
    assert repository
    assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), image


@pytest.mark.parametrize("name", MONITORING)
def test_monitoring_mounts_the_deploy_directories_read_only(name: str) -> None:
    binds = [v for v in _service(name)["volumes"] if v.startswith("./")]
    assert binds
    for bind in binds:
        source, _target, mode = bind.split(":")
        assert source.startswith(f"./deploy/{name}"), bind
        assert (ROOT / source).is_dir(), bind
        assert mode == "ro", bind


@pytest.mark.parametrize("name", MONITORING)
def test_monitoring_keeps_its_data_on_a_named_volume_and_listens_on_localhost(name: str) -> None:
    volumes = [v for v in _service(name)["volumes"] if not v.startswith("./")]
    (volume,) = volumes
    assert volume.split(":")[0] in _compose()["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in _service(name)["ports"])
    assert _service(name)["healthcheck"]["test"][0] == "CMD"


def test_prometheus_reads_the_mounted_config() -> None:
    prometheus = _service("prometheus")
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_grafana_lets_anonymous_users_view_only() -> None:
    environment = _service("grafana")["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_the_sandbox_sends_its_channel_events_to_the_webhook_service() -> None:
    command = _service("sandbox")["command"]
    assert command[command.index("--ncs-url") + 1] == "http://webhooks:8000/webhooks/agora"


def test_the_documented_sandbox_url_is_where_the_sandbox_listens() -> None:
    command = _service("sandbox")["command"]
    port = command[command.index("--port") + 1]
    assert f"AGORA_API_URLS=http://sandbox:{port}" in (ROOT / ".env.example").read_text()


# --- Dockerfile and .env.example -------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_is_python_3_11_slim() -> None:
    bases = [value for keyword, value in _dockerfile_instructions() if keyword == "FROM"]
    assert bases[-1] == "python:3.11-slim"


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [value for keyword, value in _dockerfile_instructions() if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_image_command_is_exec_form() -> None:
    commands = [value for keyword, value in _dockerfile_instructions() if keyword == "CMD"]
    assert yaml.safe_load(commands[-1])[0] == "autorec"


def test_the_dependencies_are_built_before_the_code_is_copied() -> None:
    build = []
    for keyword, value in _dockerfile_instructions():
        if keyword == "FROM" and build:
            break
        build.append((keyword, value))
    wheels = next(i for i, (k, v) in enumerate(build) if k == "RUN" and "-r requirements" in v)
    copies = [v.split()[0] for k, v in build[:wheels] if k == "COPY"]
    assert copies == ["pyproject.toml"]
    assert ("RUN", "pip wheel --no-deps --wheel-dir /wheels .") in build[wheels:]


def test_env_example_documents_every_setting_with_its_description() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for name, field in Settings.model_fields.items():
        assignments = [i for i, line in enumerate(lines) if line.startswith(f"# {name.upper()}=")]
        assert assignments, f"{name.upper()} is missing from .env.example"
        assert any(lines[i - 1] == f"# {field.description}" for i in assignments), (
            f"{name.upper()} lacks its description in .env.example"
        )


def test_env_example_documents_every_variable_the_compose_file_uses() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in {match[0] for match in _VARIABLE.findall(COMPOSE.read_text())}:
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} is undocumented"


# --- each service's command as a local process ------------------------------------------


class LocalService:
    """A compose service's command and healthcheck, rewritten to run on this machine."""

    def __init__(self, name: str, redis_url: str, log: Path) -> None:
        service = _service(name)
        self.name = name
        self.log = log
        self.grace_s = _duration_s(service.get("stop_grace_period", "10s"))
        metrics_port = free_port()
        variables = {
            "REDIS_PASSWORD": "local",
            "AUTOREC_WORKER_METRICS_PORT": str(metrics_port),
            "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
            "AGORA_CUSTOMER_ID": "local-customer",
            "AGORA_CUSTOMER_SECRET": "local-secret",
            "AGORA_NCS_SECRET": "local-ncs-secret",
            # Nothing calls Agora while idle; a closed port makes any call fail fast.
            "AGORA_API_URLS": f"http://127.0.0.1:{free_port()}",
            # The worker refuses to start without storage for the recordings.
            "STORAGE_VENDOR": "1",
            "STORAGE_REGION": "0",
            "STORAGE_BUCKET": "local-bucket",
            "STORAGE_ACCESS_KEY": "local-access-key",
            "STORAGE_SECRET_KEY": "local-secret-key",
        }
        command = [_interpolate(str(part), variables) for part in service["command"]]
        check = [_interpolate(str(part), variables) for part in service["healthcheck"]["test"]]
        if "--port" in command:
            index = command.index("--port") + 1
            container_port, local_port = command[index], str(free_port())
            command[index] = local_port
            check = [part.replace(f":{container_port}/", f":{local_port}/") for part in check]
        if "--host" in command:
            command[command.index("--host") + 1] = "127.0.0.1"
        assert command[0] == "autorec"
        self.argv = [str(BIN / "autorec"), *command[1:]]
        kind, *check_args = check
        if kind == "CMD":
            self.check = [sys.executable if check_args[0] == "python" else check_args[0]]
            self.check += check_args[1:]
        else:
            self.check = ["sh", "-c", check_args[0]]
        environment = {
            key: _interpolate(str(value), variables)
            for key, value in service.get("environment", {}).items()
        }
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "AUTOREC_"))}
        # REDIS_URL names the compose network's `redis`; here it is the local server.
        self.env = {**keep, **variables, **environment, "REDIS_URL": redis_url}

    async def healthy(self) -> bool:
        process = await asyncio.create_subprocess_exec(
            *self.check, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        return await process.wait() == 0

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def local_service(
    redis_server_factory: Callable[..., RedisServer], tmp_path: Path
) -> Callable[[str], LocalService]:
    def build(name: str) -> LocalService:
        return LocalService(name, redis_server_factory().url, tmp_path / f"{name}.log")

    return build


@pytest.mark.parametrize("name", APP_SERVICES)
async def test_each_service_command_comes_up_healthy_and_stops_cleanly(
    name: str, local_service: Callable[[str], LocalService], tmp_path: Path
) -> None:
    service = local_service(name)
    with service.log.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *service.argv, env=service.env, cwd=tmp_path, stdout=log, stderr=log
        )
    try:

        async def up() -> bool:
            assert process.returncode is None, f"{name} exited:\n{service.output()}"
            return await service.healthy()

        await eventually(up, what=f"{name} healthy", timeout_s=30)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), service.grace_s)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is complete.
    assert code in (0, -signal.SIGTERM), service.output()
    assert "Traceback" not in service.output()


def _env_example_sandbox_lines() -> dict[str, str]:
    """The commented assignments of .env.example's sandbox block, as a newcomer uncomments
    them: from the block's opening sentence to its first blank line."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "without an Agora account" in line)
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    found = (re.fullmatch(r"# ([A-Z_]+)=(.*)", line) for line in block)
    return {m[1]: m[2] for m in found if m}


def test_the_env_example_sandbox_lines_configure_a_worker_that_starts() -> None:
    from worker.controller.deps import controller_config

    values = _env_example_sandbox_lines()
    assert values["AGORA_API_URLS"].startswith("http://sandbox:")
    settings = Settings(_env_file=None, **{name.lower(): v for name, v in values.items()})
    controller_config(settings)  # raises ConfigError naming what a worker would miss
