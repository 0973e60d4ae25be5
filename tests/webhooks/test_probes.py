"""Health, readiness and configuration checks of the webhook service."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from tests.support.webhooks import serve
from webhooks.app import create_app
from worker.dev.redis_server import free_port
from worker.settings import ConfigError, Settings


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_readyz_answers_ok_when_redis_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_readyz_answers_503_when_redis_is_unreachable(settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve(dead) as client:
        response = await client.get("/readyz")
        health = await client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"error": "redis is unreachable"})
    assert health.status_code == 200


async def test_an_unknown_path_answers_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/nothing")
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


def test_an_events_secret_that_is_not_standard_webhooks_stops_the_app(
    settings: Settings,
) -> None:
    bad = settings.model_copy(update={"autorec_events_secret": SecretStr("whsec_not base64!")})
    with pytest.raises(ConfigError, match=r"^AUTOREC_EVENTS_SECRET: ") as caught:
        create_app(bad)
    assert "not base64!" not in str(caught.value)


async def test_the_app_starts_while_redis_is_down(
    settings: Settings, redis: aioredis.Redis
) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve(dead) as client:
        assert (await client.get("/healthz")).status_code == 200
