"""Run a sandbox on a free loopback port inside the current event loop, for tests elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.world import Sandbox

STARTUP_TIMEOUT_S = 10.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (pytest) keeps its own handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox served over real HTTP: `url` (no trailing slash), the app and its world."""

    url: str
    app: Starlette

    @property
    def world(self) -> Sandbox:
        """The in-memory world behind the server."""
        world: Sandbox = self.app.state.sandbox
        return world

    @property
    def config(self) -> SandboxConfig:
        """The sandbox's configuration."""
        return self.world.config


@contextlib.asynccontextmanager
async def running_sandbox(config: SandboxConfig | None = None) -> AsyncIterator[RunningSandbox]:
    """Serve a new sandbox on 127.0.0.1:<free port> until the block exits."""
    app = create_app(config)
    server = _EmbeddedServer(
        uvicorn.Config(
            app, lifespan="on", log_config=None, log_level="warning", access_log=False, ws="none"
        )
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-uvicorn")
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the sandbox server stopped during startup")
                await asyncio.sleep(0.01)
        yield RunningSandbox(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sock.close()
