"""The webhook service's composition root: `create_app()` builds the Starlette app.

Run it with `uvicorn webhooks.app:create_app --factory`. Settings are read once here; the
Redis client, the enqueue script, manual control and the notifications outbox are created in
the lifespan and reach the endpoints as lifespan state; the metrics registry belongs to the app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, TypedDict

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from webhooks.api.routes import API_EXCEPTION_HANDLERS, API_PREFIX, api_routes
from webhooks.dashboard.routes import dashboard_routes
from webhooks.enqueue import EventQueue
from webhooks.errors import WebhookError
from webhooks.metrics import WebhookMetrics, build_registry
from webhooks.probes import Probes
from webhooks.receive import AgoraWebhook, EventsWebhook
from webhooks.signatures import Webhook
from worker.policies import PolicyError, PolicySet, load_policies
from worker.redis_target import RedisTarget, parse_redis_url
from worker.settings import ConfigError, Settings
from worker.state.connection import Timeouts, connect
from worker.state.history import HistoryStore
from worker.state.manual import ManualControl
from worker.state.outbox import Endpoint, Outbox

logger = logging.getLogger(__name__)

#: A dead or hung Redis must turn into a 503 quickly, well within a sender's timeout.
REDIS_CONNECT_TIMEOUT_S: Final = 0.5
REDIS_SOCKET_TIMEOUT_S: Final = 1.0


class AppState(TypedDict):
    """Lifespan state, copied into every request's scope (`scope["state"]`)."""

    redis: aioredis.Redis[bytes]
    """The one Redis client (connection pool) of the process."""
    queue: EventQueue
    """Deduplicated enqueue into the events stream."""
    manual: ManualControl
    """Manual control of channels' recordings (the API's record / stop / automatic)."""
    outbox: Outbox
    """The outgoing notifications to AUTOREC_NOTIFY_URLS (the API lists and retries them)."""


def connect_redis(target: RedisTarget | str) -> aioredis.Redis[bytes]:
    """A Redis client with short timeouts; a dropped connection is retried once.

    The retry is safe for the enqueue script: its dedupe key turns a second run into a
    "duplicate" answer. With Sentinel the retry asks for the current primary; while none is
    known, requests get 503 and their senders retry (no waiting out a failover here).
    """
    if isinstance(target, str):
        target = parse_redis_url(target)
    timeouts = Timeouts(connect_s=REDIS_CONNECT_TIMEOUT_S, socket_s=REDIS_SOCKET_TIMEOUT_S)
    return connect(target, timeouts, retry_on_error=[RedisConnectionError])


def _events_webhook(settings: Settings) -> Webhook | None:
    secret = settings.autorec_events_secret
    if secret is None or not secret.get_secret_value():
        return None
    try:
        return Webhook(secret.get_secret_value())
    except ValueError:
        raise ConfigError(
            "AUTOREC_EVENTS_SECRET: must be whsec_ followed by base64 (Standard Webhooks)"
        ) from None


def _ncs_secret(settings: Settings) -> bytes | None:
    secret = settings.agora_ncs_secret
    if secret is None or not secret.get_secret_value():
        return None
    return secret.get_secret_value().encode("utf-8")


async def _webhook_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebhookError)
    return JSONResponse({"error": exc.message}, status_code=exc.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "internal server error"}, status_code=500)


def _policies(settings: Settings) -> PolicySet:
    """The recording policies (the API validates manual recordings against them)."""
    try:
        return load_policies(
            settings.autorec_policy_file, default_grace_s=settings.autorec_empty_grace_s
        )
    except PolicyError as exc:
        raise ConfigError(f"AUTOREC_POLICY_FILE: {exc}") from None


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the webhook service; with no settings, read them from the environment.

    Raises ConfigError (one line naming the variable) on a bad configuration.
    """
    if settings is None:
        settings = Settings.load()
    for warning in settings.warnings():
        logger.warning("%s", warning)
    registry = build_registry()
    metrics = WebhookMetrics(registry)
    probes = Probes(
        registry=registry,
        stream=settings.autorec_events_stream,
        slots_limit=settings.autorec_max_recordings,
    )
    agora = AgoraWebhook(secret=_ncs_secret(settings), metrics=metrics)
    events = EventsWebhook(webhook=_events_webhook(settings), metrics=metrics)
    policies = _policies(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        redis = connect_redis(settings.redis_target)
        queue = EventQueue(
            redis,
            stream=settings.autorec_events_stream,
            dedupe_ttl_s=settings.autorec_dedupe_ttl_s,
            stream_maxlen=settings.autorec_stream_maxlen,
            replica_ack_timeout_ms=settings.replica_ack_timeout_ms,
        )
        try:
            await queue.load_script()
        except RedisError as exc:
            # Not fatal: the service starts (and answers 503) while Redis is down; the
            # script is loaded again on first use.
            logger.warning(
                "Redis is unavailable at start (%s); webhooks get 503 until it is up",
                type(exc).__name__,
            )
        manual = ManualControl(
            redis,
            policies,
            HistoryStore(redis, history_days=settings.autorec_session_history_days),
        )
        outbox = Outbox(
            redis,
            [Endpoint(url) for url in settings.autorec_notify_urls],
            stream_maxlen=settings.autorec_notify_stream_maxlen,
        )
        try:
            yield {"redis": redis, "queue": queue, "manual": manual, "outbox": outbox}
        finally:
            await queue.aclose()
            await redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5

    return Starlette(
        routes=[
            Route("/webhooks/agora", agora, methods=["POST"], name="webhook_agora"),
            Route("/webhooks/events", events, methods=["POST"], name="webhook_events"),
            Route("/healthz", probes.healthz, methods=["GET"]),
            Route("/readyz", probes.readyz, methods=["GET"]),
            Route("/metrics", probes.metrics, methods=["GET"]),
            Mount(API_PREFIX, routes=api_routes(settings)),
            *dashboard_routes(settings),
        ],
        exception_handlers={
            **API_EXCEPTION_HANDLERS,
            WebhookError: _webhook_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
