"""Fixtures: a sandbox on a manual clock, served in process, and a client authorised for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from sandbox.app import create_app
from sandbox.config import ManualClock, SandboxConfig
from sandbox.world import Sandbox
from tests.support.sandbox import Agora


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the sandbox under test; advance it instead of sleeping."""
    return ManualClock()


@pytest.fixture
def make_config(clock: ManualClock) -> Callable[..., SandboxConfig]:
    """Build a config on the manual clock (exit phase 2 s, nothing else changed)."""

    def build(**overrides: Any) -> SandboxConfig:
        return SandboxConfig(**{"clock": clock, "seed": 7, **overrides})

    return build


@pytest.fixture
def config(make_config: Callable[..., SandboxConfig]) -> SandboxConfig:
    """The default test config."""
    return make_config()


@pytest.fixture
async def app(config: SandboxConfig) -> AsyncIterator[Starlette]:
    """The sandbox app with its lifespan running."""
    application = create_app(config)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def world(app: Starlette) -> Sandbox:
    """The sandbox's world."""
    sandbox: Sandbox = app.state.sandbox
    return sandbox


@pytest.fixture
async def client(app: Starlette, config: SandboxConfig) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with the customer's Basic auth."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://sandbox",
        auth=(config.customer_id, config.customer_secret),
    ) as http:
        yield http


@pytest.fixture
def agora(client: httpx.AsyncClient, config: SandboxConfig) -> Agora:
    """Agora calls against the sandbox."""
    return Agora(client, config)
