"""The webhook path and the queue path (an app's own XADD) end in the same channel state."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from tests.support.events import STREAM, add, app_event, consumer, drain, ncs_event, snapshot
from webhooks.app import create_app
from webhooks.signatures import Webhook, agora_signature
from worker.settings import Settings

NCS_SECRET = "ncs-test-secret"
EVENTS_SECRET = "whsec_" + base64.b64encode(b"events-test-key").decode()
CH = "room-1"

# (app event type, NCS event type, uid, order): a late join and a rejoin included.
STORY = [
    ("user.joined", 103, 1, 10),
    ("user.joined", 103, 2, 10),
    ("user.left", 104, 1, 12),
    ("user.joined", 103, 1, 11),
    ("user.joined", 103, 3, 20),
    ("user.left", 104, 3, 21),
    ("user.joined", 103, 3, 22),
    ("user.left", 104, 2, 30),
]


@pytest.fixture
async def http(redis: aioredis.Redis, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        redis_url=redis_url,
        agora_ncs_secret=NCS_SECRET,  # type: ignore[arg-type]
        autorec_events_secret=EVENTS_SECRET,  # type: ignore[arg-type]
        autorec_events_stream=STREAM,
    )
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://autorec.test"
        ) as client,
    ):
        yield client


async def post_ncs(http: httpx.AsyncClient, body: bytes) -> None:
    signature = agora_signature(body, NCS_SECRET.encode())
    response = await http.post(
        "/webhooks/agora",
        content=body,
        headers={"Agora-Signature-V2": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def post_app_event(http: httpx.AsyncClient, body: bytes, msg_id: str) -> None:
    headers = Webhook(EVENTS_SECRET).headers(msg_id, datetime.now(UTC), body)
    response = await http.post("/webhooks/events", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def via_xadd(redis: aioredis.Redis) -> dict[str, object]:
    """The story's state when an app XADDs its events itself; the database is flushed after."""
    for kind, _, uid, seq in STORY:
        await add(redis, "event", app_event(kind, CH, uid, seq))
    await drain(consumer(redis))
    state = await snapshot(redis, CH)
    await redis.flushdb()
    return state


async def test_agora_webhooks_and_xadded_app_events_give_identical_state(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    expected = await via_xadd(redis)
    for _, event_type, uid, seq in STORY:
        await post_ncs(http, ncs_event(event_type, CH, uid, seq))
    await drain(consumer(redis))
    assert await snapshot(redis, CH) == expected


async def test_app_event_webhooks_and_xadded_app_events_give_identical_state(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    expected = await via_xadd(redis)
    for n, (kind, _, uid, seq) in enumerate(STORY):
        await post_app_event(http, app_event(kind, CH, uid, seq), f"msg-{n}")
    await drain(consumer(redis))
    assert await snapshot(redis, CH) == expected


async def test_a_webhook_retried_by_its_sender_changes_nothing(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    expected = await via_xadd(redis)
    for _, event_type, uid, seq in STORY + STORY:
        await post_ncs(http, ncs_event(event_type, CH, uid, seq))
    await drain(consumer(redis))
    assert await snapshot(redis, CH) == expected
