"""The sandbox's Starlette app: Agora routes, admin routes, and a lifespan that runs the timer
loop and NCS delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from sandbox.config import SandboxConfig
from sandbox.delivery import NcsDispatcher
from sandbox.routes_admin import admin_routes
from sandbox.routes_agora import agora_routes, catch_all_route
from sandbox.world import Sandbox


async def _tick_forever(world: Sandbox, period_s: float) -> None:
    """Fire due timers even when no request arrives (idle exits must send NCS 41/11)."""
    while True:
        await asyncio.sleep(period_s)
        world.tick()


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    world: Sandbox = app.state.sandbox
    config = world.config
    dispatcher = NcsDispatcher(config, world.faults) if config.ncs_url else None
    if dispatcher is not None:
        await dispatcher.start()
        world.attach_sink(dispatcher.submit)
    app.state.ncs_dispatcher = dispatcher
    ticker = asyncio.create_task(_tick_forever(world, config.tick_s), name="sandbox-timers")
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        world.attach_sink(None)
        if dispatcher is not None:
            await dispatcher.aclose()


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """A sandbox app; its world is `app.state.sandbox` (a `sandbox.world.Sandbox`)."""
    world = Sandbox(config or SandboxConfig())
    app = Starlette(
        routes=[*agora_routes(), *admin_routes(), catch_all_route()],
        lifespan=_lifespan,
    )
    app.state.sandbox = world
    app.state.ncs_dispatcher = None
    return app
