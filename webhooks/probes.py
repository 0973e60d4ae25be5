"""Health, readiness and Prometheus endpoints of the webhook service."""

from __future__ import annotations

import asyncio
from typing import Final

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webhooks.metrics import SharedStateCollector, WaitingAges, read_shared_state, render

#: How long /readyz and /metrics wait for Redis before answering without it.
REDIS_PROBE_TIMEOUT_S: Final = 0.5

_OK: Final = JSONResponse({"ok": True})
_NOT_READY: Final = JSONResponse({"error": "redis is unreachable"}, status_code=503)


class Probes:
    """`/healthz` (process up), `/readyz` (Redis answers PING), `/metrics` (Prometheus)."""

    def __init__(self, *, registry: CollectorRegistry, stream: str, slots_limit: int) -> None:
        self._registry = registry
        self._stream = stream
        self._slots_limit = slots_limit
        self._waiting_ages = WaitingAges()

    async def healthz(self, request: Request) -> Response:
        """200 while the process serves requests."""
        return _OK

    async def readyz(self, request: Request) -> Response:
        """200 if Redis answers PING within the probe timeout, else 503."""
        redis: aioredis.Redis[bytes] = request.state.redis
        try:
            async with asyncio.timeout(REDIS_PROBE_TIMEOUT_S):
                await redis.ping()
        except (RedisError, TimeoutError, OSError):
            return _NOT_READY
        return _OK

    async def metrics(self, request: Request) -> Response:
        """The app's metrics plus shared-state gauges read from Redis (omitted if it is down)."""
        redis: aioredis.Redis[bytes] = request.state.redis
        state = await read_shared_state(redis, stream=self._stream, timeout_s=REDIS_PROBE_TIMEOUT_S)
        oldest_waiting_s = (
            self._waiting_ages.oldest_s(state.waiting_channels) if state is not None else None
        )
        shared = SharedStateCollector(
            state, slots_limit=self._slots_limit, oldest_waiting_s=oldest_waiting_s
        )
        body, content_type = render(self._registry, shared, accept=request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})
