"""A webhook receiver on a real loopback port: records what it is sent and answers what the
test tells it to (a status per call, in turn; the last repeats)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from worker.dev.redis_server import free_port


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    status: int
    """What it answered."""


@dataclass
class Receiver:
    """The receiver's record and its answers."""

    url: str
    answers: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, *statuses: int) -> None:
        """Answer these statuses in turn from now on (the last repeats)."""
        self.answers = list(statuses)

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.received if 200 <= r.status < 300]

    async def _handle(self, request: Request) -> Response:
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        body = await request.body()
        self.received.append(Received(dict(request.headers), body, status))
        self.arrived.set()
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """Run a receiver until the block exits."""
    port = free_port()
    record = Receiver(url=f"http://127.0.0.1:{port}/hooks")
    app = Starlette(routes=[Route("/hooks", record._handle, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield record
    finally:
        server.should_exit = True
        await task
