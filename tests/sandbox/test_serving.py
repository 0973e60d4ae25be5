"""The sandbox over real HTTP: `python -m sandbox` as a process, and `running_sandbox`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.config import SandboxConfig
from sandbox.testing import running_sandbox
from tests.support.sandbox import mix_request

APP_ID = "0123456789abcdef0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sandbox exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/_sandbox/stats", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("sandbox did not start serving in time")


@pytest.fixture
def served() -> Iterator[str]:
    """`python -m sandbox --port N` running as its own process; yields its URL."""
    port = _free_port()
    env = {**os.environ, "SANDBOX_APP_ID": APP_ID, "SANDBOX_CUSTOMER_SECRET": "s3cret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        finally:
            if process.stderr is not None:
                process.stderr.close()


def test_module_serves_agora_over_http(served: str) -> None:
    with httpx.Client(base_url=served, auth=("sandbox-customer", "s3cret")) as client:
        body = {"cname": "room1", "uid": "4200000001", "clientRequest": {}}
        acquired = client.post(f"/v1/apps/{APP_ID}/cloud_recording/acquire", json=body)
        resource_id = acquired.json()["resourceId"]
        started = client.post(
            f"/v1/apps/{APP_ID}/cloud_recording/resourceid/{resource_id}/mode/mix/start",
            json={**body, "clientRequest": mix_request()},
        )
        recordings = client.get("/_sandbox/recordings").json()
    assert started.status_code == 200
    assert [r["sid"] for r in recordings] == [started.json()["sid"]]


def test_module_limits_requests_to_10_per_second_by_default(served: str) -> None:
    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=served, auth=("sandbox-customer", "s3cret")) as c:
            answers = await asyncio.gather(*(c.get("/v1/ncs/ip") for _ in range(15)))
        return [a.status_code for a in answers]

    statuses = asyncio.run(burst())
    assert statuses.count(200) <= 10
    assert 429 in statuses


def test_module_refuses_a_bad_option_with_one_clear_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--time-scale", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "sandbox: SandboxConfig.time_scale must be > 0: 0.0"


async def test_running_sandbox_serves_on_a_loopback_port() -> None:
    async with running_sandbox(SandboxConfig(app_id=APP_ID)) as sb:
        async with httpx.AsyncClient(auth=("sandbox-customer", "sandbox-secret")) as client:
            response = await client.get(f"{sb.url}/v1/ncs/ip")
        assert sb.url.startswith("http://127.0.0.1:")
        assert response.status_code == 200
        assert sb.world.stats.requests_total == 1


async def test_running_sandbox_latency_makes_a_short_client_timeout_fire() -> None:
    async with running_sandbox() as sb:
        auth = (sb.config.customer_id, sb.config.customer_secret)
        async with httpx.AsyncClient(base_url=sb.url, timeout=0.1, auth=auth) as client:
            await client.post(
                "/_sandbox/faults", json={"endpoint": "user_list", "latency_ms": 1000}
            )
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"/dev/v1/channel/user/{sb.config.app_id}/room1")


async def test_running_sandbox_releases_its_port_on_exit() -> None:
    async with running_sandbox() as sb:
        url = sb.url
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/_sandbox/stats")
