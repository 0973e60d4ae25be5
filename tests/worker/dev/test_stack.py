"""What `autorec dev` plans to run, and how the children are wired together."""

from __future__ import annotations

import base64
import io
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from webhooks.signatures import Webhook
from worker.dev.run import ChildSpec
from worker.dev.stack import DevOptions, DevStack, plan_dev, print_summary, uses_sandbox
from worker.settings import ConfigError, Settings

AGORA = {
    "agora_app_id": "0123456789abcdef0123456789abcdef",
    "agora_customer_id": "customer",
    "agora_customer_secret": "customer-secret",
}


def _plan(tmp_path: Path, options: DevOptions | None = None, **settings: object) -> DevStack:
    return plan_dev(
        Settings(_env_file=None, **settings),  # type: ignore[call-arg]
        options or DevOptions(port=_free()),
        base_env={"PATH": "/usr/bin"},
        data_dir=tmp_path,
    )


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child(stack: DevStack, name: str) -> ChildSpec:
    return next(child for child in stack.children if child.name == name)


def _env(stack: DevStack, name: str) -> dict[str, str]:
    env = _child(stack, name).env
    assert env is not None
    return dict(env)


def test_without_any_configuration_everything_runs_locally(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    assert [child.name for child in stack.children] == ["redis", "sandbox", "webhooks", "worker"]


def test_a_configured_redis_url_replaces_the_embedded_redis(tmp_path: Path) -> None:
    stack = _plan(tmp_path, redis_url="redis://127.0.0.1:6390/3")
    assert "redis" not in [child.name for child in stack.children]
    assert _env(stack, "worker")["REDIS_URL"] == "redis://127.0.0.1:6390/3"


def test_every_autorec_child_uses_the_embedded_redis(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    port = _child(stack, "redis").argv[_child(stack, "redis").argv.index("--port") + 1]
    for name in ("webhooks", "worker"):
        assert _env(stack, name)["REDIS_URL"] == f"redis://127.0.0.1:{port}/0"


def test_the_workers_metrics_listen_on_the_loopback_address(tmp_path: Path) -> None:
    assert _env(_plan(tmp_path), "worker")["AUTOREC_WORKER_METRICS_HOST"] == "127.0.0.1"


def test_the_worker_calls_the_sandbox_with_the_sandboxs_credentials(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    worker, sandbox = _env(stack, "worker"), _env(stack, "sandbox")
    argv = list(_child(stack, "sandbox").argv)
    assert worker["AGORA_API_URLS"] == f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
    for name in ("APP_ID", "APP_CERTIFICATE", "CUSTOMER_ID", "CUSTOMER_SECRET"):
        assert worker[f"AGORA_{name}"] == sandbox[f"SANDBOX_{name}"]


def test_the_sandbox_signs_its_events_with_the_webhook_services_ncs_secret(
    tmp_path: Path,
) -> None:
    port = _free()
    stack = _plan(tmp_path, DevOptions(port=port))
    argv = list(_child(stack, "sandbox").argv)
    assert argv[argv.index("--ncs-url") + 1] == f"http://127.0.0.1:{port}/webhooks/agora"
    ncs_secret = _env(stack, "sandbox")["SANDBOX_NCS_SECRET"]
    assert _env(stack, "webhooks")["AGORA_NCS_SECRET"] == ncs_secret


def test_each_run_generates_fresh_sandbox_secrets(tmp_path: Path) -> None:
    first, second = _env(_plan(tmp_path), "sandbox"), _env(_plan(tmp_path), "sandbox")
    assert first["SANDBOX_NCS_SECRET"] != second["SANDBOX_NCS_SECRET"]
    assert first["SANDBOX_CUSTOMER_SECRET"] != second["SANDBOX_CUSTOMER_SECRET"]


def test_no_secret_appears_on_a_command_line(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    secrets = [
        value
        for name, value in _env(stack, "sandbox").items()
        if name.startswith("SANDBOX_") and name != "SANDBOX_APP_ID"
    ]
    for child in stack.children:
        assert not [part for part in child.argv if any(s in part for s in secrets)]


def test_configured_agora_credentials_mean_no_sandbox(tmp_path: Path) -> None:
    stack = _plan(tmp_path, **AGORA)
    assert "sandbox" not in [child.name for child in stack.children]
    assert "AGORA_API_URLS" not in _env(stack, "worker")


def test_the_sandbox_flag_wins_over_configured_credentials(tmp_path: Path) -> None:
    stack = _plan(tmp_path, DevOptions(port=_free(), sandbox=True), **AGORA)
    assert _env(stack, "worker")["AGORA_APP_ID"] != AGORA["agora_app_id"]


def test_half_configured_agora_credentials_name_the_missing_one() -> None:
    settings = Settings(_env_file=None, agora_app_id=AGORA["agora_app_id"])  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="AGORA_CUSTOMER_ID is required"):
        uses_sandbox(settings, None)


def test_no_sandbox_without_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="AGORA_APP_ID is required"):
        uses_sandbox(Settings(_env_file=None), False)  # type: ignore[call-arg]


def test_a_busy_sandbox_port_is_a_configuration_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match="--sandbox-port: cannot listen"):
            _plan(tmp_path, DevOptions(port=_free(), sandbox_port=port))


def test_the_summary_never_shows_a_redis_password(tmp_path: Path) -> None:
    stack = _plan(tmp_path, redis_url="redis://app:hunter2@db.example:6380/1")
    redis = next(endpoint for endpoint in stack.endpoints if endpoint.name == "redis")
    assert redis.address == "redis://app:***@db.example:6380/1"


def test_only_the_worker_is_started_again_when_it_exits(tmp_path: Path) -> None:
    stack = _plan(tmp_path, DevOptions(port=_free(), demo=True))
    restarts = {child.name: child.restarts for child in stack.children}
    assert restarts.pop("worker") > 0
    assert set(restarts) == {"redis", "sandbox", "webhooks", "demo"}
    assert set(restarts.values()) == {0}


def test_the_summary_is_printed_whole_on_an_80_column_pipe(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from worker.dev.stack import print_summary

    stack = _plan(tmp_path, DevOptions(port=_free(), demo=True))
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    print_summary(
        console, stack, {child.name: 10_000 + i for i, child in enumerate(stack.children)}
    )
    rows = {line.split()[0]: line for line in out.getvalue().splitlines() if line.strip()}
    for endpoint in stack.endpoints:
        assert endpoint.address in rows[endpoint.name]
        assert endpoint.note in rows[endpoint.name]


def test_an_ipv6_host_is_bracketed_in_the_webhooks_url(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    stack = _plan(tmp_path, DevOptions(host="::1", port=port))
    webhooks = next(endpoint for endpoint in stack.endpoints if endpoint.name == "webhooks")
    assert webhooks.address == f"http://[::1]:{port}"
    assert _env(stack, "sandbox")["SANDBOX_APP_ID"]
    sandbox_argv = list(_child(stack, "sandbox").argv)
    ncs_url = sandbox_argv[sandbox_argv.index("--ncs-url") + 1]
    assert ncs_url == f"http://[::1]:{port}/webhooks/agora"


def test_the_webhook_service_and_the_worker_get_an_api_token_and_an_events_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = _plan(tmp_path)
    webhooks, worker = _env(stack, "webhooks"), _env(stack, "worker")
    for name in ("AUTOREC_API_TOKEN", "AUTOREC_EVENTS_SECRET"):
        assert webhooks[name] == worker[name]
        monkeypatch.setenv(name, webhooks[name])
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.autorec_api_token is not None
    assert len(settings.autorec_api_token.get_secret_value()) >= 32
    assert settings.autorec_events_secret is not None
    events_secret = settings.autorec_events_secret.get_secret_value()
    assert events_secret.startswith("whsec_")
    assert len(base64.b64decode(events_secret.removeprefix("whsec_"), validate=True)) == 24


def test_the_generated_events_secret_signs_what_the_webhook_service_verifies(
    tmp_path: Path,
) -> None:
    webhook = Webhook(_env(_plan(tmp_path), "webhooks")["AUTOREC_EVENTS_SECRET"])
    now = datetime.now(UTC)
    headers = webhook.headers("evt-1", now, b"{}")
    assert webhook.verify(headers, b"{}", now) == "evt-1"


def test_each_run_generates_a_fresh_api_token(tmp_path: Path) -> None:
    first, second = _env(_plan(tmp_path), "webhooks"), _env(_plan(tmp_path), "webhooks")
    assert first["AUTOREC_API_TOKEN"] != second["AUTOREC_API_TOKEN"]
    assert first["AUTOREC_EVENTS_SECRET"] != second["AUTOREC_EVENTS_SECRET"]


def test_a_configured_api_token_and_events_secret_are_kept_and_never_printed(
    tmp_path: Path,
) -> None:
    stack = _plan(
        tmp_path, autorec_api_token="my-token", autorec_events_secret="whsec_bXlzZWNyZXQ="
    )
    assert "AUTOREC_API_TOKEN" not in _env(stack, "webhooks")
    assert "AUTOREC_EVENTS_SECRET" not in _env(stack, "webhooks")
    text = _summary(stack)
    assert "my-token" not in text
    assert "bXlzZWNyZXQ=" not in text
    assert "Authorization: Bearer $AUTOREC_API_TOKEN" in text


def test_the_summary_shows_the_api_token_the_events_secret_and_a_curl_line(
    tmp_path: Path,
) -> None:
    port = _free()
    stack = _plan(tmp_path, DevOptions(port=port))
    env = _env(stack, "webhooks")
    token, secret = env["AUTOREC_API_TOKEN"], env["AUTOREC_EVENTS_SECRET"]
    text = _summary(stack)
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert f"http://127.0.0.1:{port}/api/v1" in rows["api"]
    assert f"AUTOREC_API_TOKEN={token}" in rows["api"]
    assert f"http://127.0.0.1:{port}/webhooks/events" in rows["events"]
    assert f"AUTOREC_EVENTS_SECRET={secret}" in rows["events"]
    curl = f"curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/api/v1/status"
    assert curl in text.splitlines()[-2]
    assert "signed with AUTOREC_EVENTS_SECRET" in text.splitlines()[-1]


def test_no_api_secret_appears_on_a_command_line(tmp_path: Path) -> None:
    stack = _plan(tmp_path)
    env = _env(stack, "webhooks")
    secrets = (env["AUTOREC_API_TOKEN"], env["AUTOREC_EVENTS_SECRET"])
    for child in stack.children:
        assert not [part for part in child.argv if any(s in part for s in secrets)]
    assert not set(secrets) & set(_env(stack, "sandbox").values())


def _summary(stack: DevStack) -> str:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    print_summary(
        console, stack, {child.name: 10_000 + i for i, child in enumerate(stack.children)}
    )
    return out.getvalue()
