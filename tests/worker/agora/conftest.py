"""The real Agora client against the sandbox: in process over ASGITransport by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from sandbox.app import create_app
from sandbox.config import ManualClock, SandboxConfig
from tests.support.agora.harness import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    SANDBOX_URL,
    Harness,
    Pauses,
    RequestIdGateway,
    fast_retry,
    sandbox_config_with,
)
from worker.agora import AgoraClient


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The sandbox's configuration; a test changes it with
    `@pytest.mark.parametrize("sandbox_config", [sandbox_config_with(...)])`."""
    return sandbox_config_with()


@pytest.fixture
async def harness(sandbox_config: SandboxConfig) -> AsyncIterator[Harness]:
    """A sandbox app in process and a factory of clients talking to it."""
    app = create_app(sandbox_config)
    gateway = RequestIdGateway(app)
    pauses = Pauses()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway)) as http,
    ):

        def make_client(**changes: Any) -> AgoraClient:
            settings: dict[str, Any] = {
                "app_id": APP_ID,
                "customer_id": CUSTOMER_ID,
                "customer_secret": SecretStr(CUSTOMER_SECRET),
                "base_urls": [SANDBOX_URL],
                "retry": fast_retry(pauses),
            }
            settings.update(changes)
            return AgoraClient(http, **settings)

        clock = sandbox_config.clock
        assert isinstance(clock, ManualClock)
        yield Harness(app.state.sandbox, http, gateway, pauses, clock, make_client)


@pytest.fixture
def agora(harness: Harness) -> AgoraClient:
    """The default client."""
    return harness.make_client()
