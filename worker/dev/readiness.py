"""Readiness probes for supervised children: an HTTP endpoint answers 200, Redis answers PONG."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import httpx

ReadyCheck = Callable[[], Awaitable[bool]]
"""Answers True once the child serves; called repeatedly until then."""


def http_ready(url: str) -> ReadyCheck:
    """A ready check: GET `url` answers 200."""

    async def check() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


def redis_ready(host: str, port: int) -> ReadyCheck:
    """A ready check: the Redis server at host:port answers PING with PONG."""

    async def check() -> bool:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await reader.readline()).startswith(b"+PONG")
        except OSError:
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return check
