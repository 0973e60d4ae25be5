"""The service as deployed: `uvicorn webhooks.app:create_app --factory`, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support.webhooks import (
    EVENTS_SECRET,
    NCS_SECRET,
    STREAM,
    app_event_body,
    event_headers,
    ncs_body,
    ncs_headers,
)
from worker.dev.redis_server import free_port


@pytest.fixture(scope="module")
def base_url(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A uvicorn child process serving the app, configured only by its environment."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "AGORA_NCS_SECRET": NCS_SECRET,
        "AUTOREC_EVENTS_SECRET": EVENTS_SECRET,
        "AUTOREC_EVENTS_STREAM": STREAM,
    }
    argv = [
        sys.executable, "-m", "uvicorn", "webhooks.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("uvicorn") / "output.log"
    with log.open("wb") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not come up:\n{log.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def http(base_url: str, redis: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    """A real HTTP client of the running service, on a flushed Redis."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        yield client


async def test_a_signed_notification_is_accepted_over_http(
    http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = ncs_body("n-http")
    response = await http.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert response.headers["content-type"] == "application/json"
    [(_, fields)] = await redis.xrange(STREAM)
    assert fields[b"ncs"] == body


async def test_a_replay_over_http_is_enqueued_once(
    http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = app_event_body("evt-http")
    for _ in range(3):
        response = await http.post("/webhooks/events", content=body, headers=event_headers(body))
        assert response.status_code == 200
    assert await redis.xlen(STREAM) == 1


async def test_a_tampered_body_is_rejected_over_http(http: httpx.AsyncClient) -> None:
    body = ncs_body()
    response = await http.post("/webhooks/agora", content=body + b" ", headers=ncs_headers(body))
    assert (response.status_code, response.json()["error"]) == (
        401,
        "Agora-Signature-V2 does not match the body",
    )


async def test_a_70_kib_body_is_refused_over_http(http: httpx.AsyncClient) -> None:
    body = ncs_body(padding="x" * 70 * 1024)
    response = await http.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    assert (response.status_code, response.json()) == (
        413,
        {"error": "request body is larger than 65536 bytes"},
    )


async def test_a_chunked_70_kib_body_is_refused_over_http(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    response = await http.post(
        "/webhooks/agora", content=chunks(), headers={"Agora-Signature-V2": "00"}
    )
    assert response.status_code == 413


async def test_a_chunked_signed_body_within_the_limit_is_accepted_over_http(
    http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = ncs_body("n-chunked")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16):
            yield body[start : start + 16]

    response = await http.post("/webhooks/agora", content=chunks(), headers=ncs_headers(body))
    assert response.status_code == 200
    assert await redis.xlen(STREAM) == 1
