"""The webhook service under test: its secrets, signed request bodies, the app over ASGI."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from asgi_lifespan import LifespanManager

from webhooks.app import create_app
from webhooks.signatures import Webhook, agora_signature
from worker.settings import Settings

NCS_SECRET = "ncs-test-secret"
EVENTS_SECRET = "whsec_" + base64.b64encode(b"events-test-secret-0123456789ab").decode()
STREAM = "autorec:events"
#: Bearer tokens of the app-facing API (`api_settings`).
API_TOKEN = "api-test-token-full-0123456789"
API_READ_TOKEN = "api-test-token-read-0123456789"
#: Agora's published AccessToken2 test app (agora-facts §6.2), for `/api/v1/tokens`.
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"


def ncs_body(notice_id: str = "2000001428:4330:107", **extra: object) -> bytes:
    """A real-shaped NCS user-join notification (productId 1, eventType 107)."""
    return orjson.dumps(
        {
            "noticeId": notice_id,
            "productId": 1,
            "eventType": 107,
            "notifyMs": 1611566412672,
            "payload": {
                "channelName": "room-1",
                "uid": 42,
                "platform": 7,
                "clientSeq": 1625051035369,
                "ts": 1611566412,
            },
            **extra,
        }
    )


def ncs_headers(body: bytes, secret: str = NCS_SECRET) -> dict[str, str]:
    """Headers Agora NCS sends with `body`."""
    return {
        "Content-Type": "application/json",
        "Agora-Signature-V2": agora_signature(body, secret.encode()),
    }


def app_event_body(event_id: str = "evt-123", **overrides: object) -> bytes:
    """An app event (design §4 schema)."""
    event: dict[str, object] = {
        "id": event_id,
        "type": "user.joined",
        "channel": "room-1",
        "uid": 42,
        "role": "host",
        "ts_ms": 1700000000000,
        "seq": 7,
    }
    event.update(overrides)
    return orjson.dumps(event)


def event_headers(
    body: bytes,
    msg_id: str = "msg-1",
    *,
    secret: str = EVENTS_SECRET,
    at: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for `body`, signed now (or `at`)."""
    headers = Webhook(secret).headers(msg_id, at or datetime.now(UTC), body)
    return {"Content-Type": "application/json", **headers}


def webhook_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for `redis_url` with both webhook secrets configured (and `overrides`)."""
    return Settings(
        redis_url=redis_url,
        agora_ncs_secret=NCS_SECRET,
        autorec_events_secret=EVENTS_SECRET,
        autorec_events_stream=STREAM,
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )


def api_settings(redis_url: str, **overrides: Any) -> Settings:
    """`webhook_settings` with both API tokens and an Agora app that can sign tokens."""
    return webhook_settings(
        redis_url,
        **{
            "autorec_api_token": API_TOKEN,
            "autorec_api_read_token": API_READ_TOKEN,
            "agora_app_id": APP_ID,
            "agora_app_certificate": APP_CERTIFICATE,
            **overrides,
        },
    )


def bearer(token: str = API_TOKEN) -> dict[str, str]:
    """The Authorization header of an API request."""
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan, behind an in-process ASGI client."""
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://autorec.test"
        ) as client,
    ):
        yield client
