"""The `autorec` command: arguments, one-line errors, the token command, and `autorec dev`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.support.processes import alive, read_until
from tests.support.waiting import eventually
from worker.agora.token import RtcRole, build_rtc_token
from worker.cli.main import main
from worker.dev.redis_server import RedisServer, free_port

# AccessToken2Test.py's fixture and expected token (agora-facts §6.2).
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = "2882341273"
VECTOR = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0Sj"
    "QxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhk"
    "bmxgDCaiTj"
)
FIXED = ["--expire-s", "600", "--issue-ts", "1111111", "--salt", "1"]
AUTOREC = str(Path(sys.executable).with_name("autorec"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No autorec variable and no `.env` from the surroundings reaches the command."""
    for name in list(os.environ):
        if name.startswith(("AGORA_", "AUTOREC_", "STORAGE_", "REDIS_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _token(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return _run(capsys, "token", "--channel", CHANNEL, "--uid", UID, *argv)


def test_token_reproduces_the_official_accesstoken2_vector(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", APP_CERTIFICATE)
    assert _token(capsys, "--role", "subscriber", *FIXED) == (0, VECTOR + "\n", "")


def test_token_flags_take_the_place_of_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = ["--app-id", APP_ID, "--app-certificate", APP_CERTIFICATE]
    assert _token(capsys, "--role", "subscriber", *FIXED, *flags)[1] == VECTOR + "\n"


def test_token_defaults_to_the_publisher_role(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", APP_CERTIFICATE)
    publisher = build_rtc_token(
        APP_ID, APP_CERTIFICATE, CHANNEL, int(UID), RtcRole.PUBLISHER, 600, 600,
        issue_ts=1111111, salt=1,
    )  # fmt: skip
    assert _token(capsys, *FIXED)[1] == publisher + "\n"


def test_token_without_a_certificate_names_the_missing_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    code, out, err = _token(capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "AGORA_APP_CERTIFICATE is required" in err


def test_a_malformed_certificate_is_reported_without_its_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", "secret-but-not-hex")
    code, _, err = _token(capsys)
    assert code == 2
    assert "AGORA_APP_CERTIFICATE: must be 32 hexadecimal characters" in err
    assert "secret-but-not-hex" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--uid", "-1"], "argument --uid: a uid must be in 0..4294967295, not -1"),
        (["--uid", "abc"], "argument --uid: a uid must be an integer, not 'abc'"),
        (["--uid", "1", "--channel", "a/b"], "argument --channel: a channel name is 1 to 63"),
        (["--uid", "1", "--channel", "c" * 64], "argument --channel: a channel name is 1 to 63"),
        (["--uid", "1", "--channel", "c", "--salt", "0"], "the salt must be in 1..99999999"),
        (["--uid", "1", "--channel", "c", "--role", "owner"], "argument --role: invalid choice"),
    ],
)
def test_a_bad_token_argument_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "token", "--channel", "c", *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("autorec token: error: ")
    assert message in err


def test_an_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "record-everything")
    assert code == 2
    assert err.count("\n") == 1
    assert "invalid choice: 'record-everything'" in err


def test_an_unknown_option_names_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "dev", "--colour")
    assert code == 2
    assert err == "autorec dev: error: unrecognized arguments: --colour (see autorec dev --help)\n"


@pytest.mark.parametrize("command", ["dev", "webhooks", "worker", "status", "token"])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = _run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: autorec {command}")


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for command in ("dev", "webhooks", "worker", "status", "sandbox", "token"):
        assert f"    {command} " in out


def test_sandbox_help_is_the_sandbox_programs_own(tmp_path: Path) -> None:
    result = subprocess.run(
        [AUTOREC, "sandbox", "--help"], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "--ncs-url" in result.stdout


@pytest.mark.parametrize("command", ["webhooks", "worker", "dev"])
def test_a_bad_setting_stops_a_command_with_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("AUTOREC_MAX_RECORDINGS", "0")
    code, _, err = _run(capsys, command)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("autorec: configuration error: AUTOREC_MAX_RECORDINGS:")


def test_worker_without_agora_credentials_names_the_first_missing_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "worker")
    assert code == 2
    assert err == "autorec: configuration error: AGORA_APP_ID is required but not set\n"


_STORAGE_AND_AGORA = {
    "AGORA_APP_ID": APP_ID,
    "AGORA_CUSTOMER_ID": "customer",
    "AGORA_CUSTOMER_SECRET": "customer-secret",
    "STORAGE_VENDOR": "1",
    "STORAGE_REGION": "0",
    "STORAGE_BUCKET": "bucket",
    "STORAGE_ACCESS_KEY": "access-key",
    "STORAGE_SECRET_KEY": "secret-key",
}


@pytest.mark.parametrize("argv", [["worker"], ["worker", "--check"]])
def test_worker_with_a_malformed_redis_url_names_it_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    for name, value in _STORAGE_AND_AGORA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", "redis://localhost:notaport/0")
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("autorec: configuration error: REDIS_URL: ")


def test_worker_with_a_bad_policy_file_says_so_before_it_needs_redis(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in _STORAGE_AND_AGORA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTOREC_POLICY_FILE", str(tmp_path / "missing.toml"))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    code, _, err = _run(capsys, "worker")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("autorec: configuration error: AUTOREC_POLICY_FILE")


@pytest.mark.parametrize("argv", [["worker"], ["worker", "--check"]])
def test_worker_without_redis_says_so_in_one_line_without_its_password(
    tmp_path: Path, argv: list[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "AUTOREC_"))},
            **_STORAGE_AND_AGORA,
            "REDIS_URL": f"redis://:hunter2hunter2@127.0.0.1:{closed.getsockname()[1]}/0",
        }
        result = subprocess.run(
            [AUTOREC, *argv], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("autorec: error: cannot reach Redis at redis://:***@127.0.0.1:"), (
        result.stderr
    )
    assert "hunter2hunter2" not in result.stderr + result.stdout


def test_dev_with_an_unreachable_redis_url_says_so_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"redis://:hunter2hunter2@127.0.0.1:{closed.getsockname()[1]}/0"
        monkeypatch.setenv("REDIS_URL", url)
        started = time.monotonic()
        code, out, err = _run(capsys, "dev", "--port", str(free_port()))
    assert time.monotonic() - started < 10
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("autorec: error: cannot reach Redis at redis://:***@127.0.0.1:")
    assert "hunter2hunter2" not in err


@pytest.mark.parametrize("command", ["dev", "webhooks"])
def test_a_busy_port_is_refused_with_one_line(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _run(capsys, command, "--port", str(port))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(
        f"autorec: configuration error: --port: cannot listen on 127.0.0.1:{port}"
    )


def test_webhooks_serves_from_one_process_and_shuts_down_on_sigterm(
    redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url}
    log = tmp_path / "webhooks.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [AUTOREC, "webhooks", "--port", str(port)], env=env, cwd=tmp_path,
            stdout=out, stderr=out,
        )  # fmt: skip
    try:
        assert _poll(f"http://127.0.0.1:{port}/readyz").status_code == 200
        assert Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split() == []
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is complete.
        assert proc.wait(timeout=15) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert "Application shutdown complete" in log.read_text()


def test_worker_check_fails_while_no_worker_has_reported(
    redis_server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    env = {**os.environ, "REDIS_URL": redis_server_factory().url}
    result = subprocess.run(
        [AUTOREC, "worker", "--check"], env=env, cwd=tmp_path, capture_output=True, timeout=30
    )
    assert result.returncode == 1


def test_sandbox_accepts_the_configured_agora_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AGORA_APP_ID": APP_ID,
        "AGORA_CUSTOMER_ID": "customer",
        "AGORA_CUSTOMER_SECRET": "customer-secret",
    }
    proc = subprocess.Popen(
        [AUTOREC, "sandbox", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    acquire = f"http://127.0.0.1:{port}/v1/apps/{APP_ID}/cloud_recording/acquire"
    body = {"cname": "room-1", "uid": "4200000001", "clientRequest": {}}
    try:
        assert _poll(f"http://127.0.0.1:{port}/_sandbox/stats").status_code == 200
        wrong = httpx.post(acquire, json=body, auth=("customer", "wrong"), timeout=5)
        right = httpx.post(acquire, json=body, auth=("customer", "customer-secret"), timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert wrong.status_code == 401
    assert right.status_code == 200, right.text


async def _consumed_events(redis_url: str) -> bool:
    """Whether the events stream holds an entry that a consumer group has read."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        last = await client.xrevrange("autorec:events", count=1)
        if not last:
            return False
        groups = await client.xinfo_groups("autorec:events")
        return any(group["last-delivered-id"] == last[0][0] for group in groups)
    finally:
        await client.aclose()


def _poll(url: str, timeout_s: float = 20.0) -> httpx.Response:
    """GET `url` until it answers 200 or the deadline passes; the last response."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200 or time.monotonic() > deadline:
                return response
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.mark.slow
async def test_dev_runs_everything_wired_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGORA_", "AUTOREC_", "REDIS_URL"))
    }
    argv = [AUTOREC, "dev", "--port", str(port), "--sandbox-port", str(sandbox_port)]
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        # The summary table ends with the worker's metrics address.
        lines = await read_until(proc.stdout, lambda seen: any("/metrics " in s for s in seen))
        pids = [int(s.split("(pid ")[1].rstrip(")")) for s in lines if "(pid " in s]
        assert len(pids) == 4, lines
        redis_url = next(word for s in lines for word in s.split() if word.startswith("redis://"))
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            join = f"http://127.0.0.1:{sandbox_port}/_sandbox/channels/room-1/join"
            assert (await client.post(join, json={"uid": 42})).status_code == 200
        # The sandbox's signed NCS event went through the webhook service into the stream,
        # and the worker's consumer read it.
        await eventually(lambda: _consumed_events(redis_url), what="the event consumed")
        # The app-event endpoint works with the secret dev printed, signed by the official
        # Standard Webhooks library, and refuses an unsigned event.
        secret = next(
            word.split("=", 1)[1]
            for s in lines
            for word in s.split()
            if word.startswith("AUTOREC_EVENTS_SECRET=whsec_")
        )
        events = f"http://127.0.0.1:{port}/webhooks/events"
        body = orjson.dumps({"id": "app-1", "type": "user.joined", "channel": "room-2", "uid": 7})
        now = datetime.now(UTC)
        signed = StandardWebhook(secret).sign("msg-1", now, body.decode())
        headers = {
            "webhook-id": "msg-1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signed,
            "content-type": "application/json",
        }
        async with httpx.AsyncClient(timeout=5) as client:
            accepted = await client.post(events, content=body, headers=headers)
            unsigned = await client.post(
                events, content=body, headers={"content-type": "application/json"}
            )
        assert accepted.status_code == 200, accepted.text
        assert unsigned.status_code == 401, unsigned.text
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 40) == 0
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert not [pid for pid in pids if alive(pid)]
    for free in (port, sandbox_port):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", free))
            sock.listen()


# --- every configuration or connection error: one line naming the variable ---------------

ARQ = str(Path(sys.executable).with_name("arq"))
#: A Redis that refuses connections (nothing listens on port 1 of the loopback address).
_DOWN = "redis://:hunter2hunter2@127.0.0.1:1/0"
_TOKEN = ["token", "--channel", "room", "--uid", "1"]


@pytest.mark.parametrize(
    ("argv", "env", "variable", "status"),
    [
        ([AUTOREC, "worker"], {"REDIS_URL": "garbage"}, "REDIS_URL", 2),
        ([AUTOREC, "dev"], {"REDIS_URL": "garbage"}, "REDIS_URL", 2),
        ([AUTOREC, "webhooks"], {"REDIS_URL": "garbage"}, "REDIS_URL", 2),
        ([AUTOREC, "status"], {"REDIS_URL": "garbage"}, "REDIS_URL", 2),
        ([AUTOREC, "worker", "--check"], {"REDIS_URL": _DOWN}, "REDIS_URL", 1),
        ([ARQ, "worker.main.WorkerSettings"], {"REDIS_URL": _DOWN}, "REDIS_URL", 1),
        ([ARQ, "worker.main.WorkerSettings"], {"AGORA_CUSTOMER_ID": ""}, "AGORA_CUSTOMER_ID", 2),
        ([AUTOREC, "worker"], {"STORAGE_REGION": "999"}, "STORAGE_REGION", 2),
        ([ARQ, "worker.main.WorkerSettings"], {"STORAGE_REGION": "999"}, "STORAGE_REGION", 2),
        ([AUTOREC, "dev", "--no-sandbox"], {"STORAGE_REGION": "999"}, "STORAGE_REGION", 2),
        ([AUTOREC, "worker"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        ([AUTOREC, "webhooks"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        ([AUTOREC, "dev"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        ([AUTOREC, "status"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        ([AUTOREC, "sandbox"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        ([ARQ, "worker.main.WorkerSettings"], {"AGORA_APP_ID": "abc"}, "AGORA_APP_ID", 2),
        (
            [AUTOREC, *_TOKEN],
            {"AGORA_APP_ID": "abc", "AGORA_APP_CERTIFICATE": APP_CERTIFICATE},
            "AGORA_APP_ID",
            2,
        ),
        ([AUTOREC, "sandbox", "--app-id", "nothex"], {}, "--app-id", 2),
    ],
)
def test_each_bad_input_is_one_line_naming_the_variable(
    tmp_path: Path, argv: list[str], env: dict[str, str], variable: str, status: int
) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "AUTOREC_"))},
        **_STORAGE_AND_AGORA,
        "REDIS_URL": _DOWN,
        "AUTOREC_WORKER_METRICS_PORT": "0",
        **env,
    }
    result = subprocess.run(
        argv, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == status, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    assert "errors.pydantic.dev" not in result.stderr
    assert "hunter2hunter2" not in result.stderr


def test_sandbox_help_names_the_autorec_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [AUTOREC, "sandbox", "--help"], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert result.stdout.startswith("usage: autorec sandbox ")
    assert "python -m sandbox" not in result.stdout
