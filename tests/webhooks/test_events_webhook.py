"""POST /webhooks/events: app events signed per Standard Webhooks, deduplicated on webhook-id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import redis.asyncio as aioredis

from tests.support.webhooks import (
    STREAM,
    app_event_body,
    event_headers,
    ncs_body,
    ncs_headers,
    serve,
)
from webhooks.signatures import Webhook
from worker import keys
from worker.settings import Settings

URL = "/webhooks/events"


async def test_a_signed_event_is_accepted(client: httpx.AsyncClient) -> None:
    body = app_event_body()
    response = await client.post(URL, content=body, headers=event_headers(body))
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_the_raw_body_is_enqueued_as_event_with_source_and_receive_time(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = b'{"type": "user.left", "id": "evt-9", "channel": "room-1", "uid": 42}'
    await client.post(URL, content=body, headers=event_headers(body, "evt-9"))
    [(_, fields)] = await redis.xrange(STREAM)
    assert fields[keys.FIELD_EVENT.encode()] == body
    assert fields[keys.FIELD_SOURCE.encode()] == b"events"
    assert int(fields[keys.FIELD_RECEIVED_MS.encode()]) > 1_700_000_000_000
    assert keys.FIELD_NCS.encode() not in fields


async def test_a_retry_with_a_fresh_timestamp_is_answered_ok_and_enqueued_once(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = app_event_body("evt-1")
    now = datetime.now(UTC)
    for attempt_at in (now - timedelta(seconds=200), now - timedelta(seconds=5), now):
        headers = event_headers(body, "msg-1", at=attempt_at)
        response = await client.post(URL, content=body, headers=headers)
        assert (response.status_code, response.json()) == (200, {"ok": True})
    assert await redis.xlen(STREAM) == 1


async def test_deduplication_follows_webhook_id_when_the_body_id_differs(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    first, second = app_event_body("evt-a"), app_event_body("evt-b")
    await client.post(URL, content=first, headers=event_headers(first, "msg-1"))
    await client.post(URL, content=second, headers=event_headers(second, "msg-1"))
    assert await redis.xlen(STREAM) == 1
    assert await redis.exists(keys.dedupe("events", "msg-1")) == 1


async def test_an_app_event_whose_id_equals_a_notice_id_is_not_a_duplicate(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    # The two senders choose their ids independently: each has its own dedupe namespace.
    notice = ncs_body("2000001428:4330:107")
    await client.post("/webhooks/agora", content=notice, headers=ncs_headers(notice))
    body = app_event_body()
    await client.post(URL, content=body, headers=event_headers(body, "2000001428:4330:107"))
    assert await redis.xlen(STREAM) == 2


async def test_a_tampered_body_is_rejected(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = app_event_body()
    response = await client.post(URL, content=app_event_body(uid=43), headers=event_headers(body))
    assert response.status_code == 401
    assert response.json() == {"error": "no webhook-signature matches the body"}
    assert await redis.xlen(STREAM) == 0


async def test_a_signature_made_with_another_secret_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    body = app_event_body()
    headers = event_headers(body, secret="whsec_" + "b3RoZXIgc2VjcmV0")
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401


async def test_a_missing_signature_header_is_rejected(client: httpx.AsyncClient) -> None:
    body = app_event_body()
    headers = event_headers(body)
    del headers["webhook-signature"]
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "missing webhook-signature header"}


async def test_a_stale_timestamp_is_rejected(client: httpx.AsyncClient) -> None:
    body = app_event_body()
    headers = event_headers(body, at=datetime.now(UTC) - timedelta(minutes=6))
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "webhook-timestamp is too old"}


async def test_rotated_signatures_are_accepted_if_one_matches(
    client: httpx.AsyncClient,
) -> None:
    body = app_event_body()
    headers = event_headers(body)
    old = Webhook(b"retired key").sign("msg-1", datetime.now(UTC), body)
    headers["webhook-signature"] = f"{old} {headers['webhook-signature']}"
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200


async def test_an_event_without_type_is_malformed(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = b'{"id":"evt-1","channel":"room-1","uid":42}'
    response = await client.post(URL, content=body, headers=event_headers(body))
    assert response.status_code == 400
    assert response.json() == {"error": "type must be a non-empty string"}
    assert await redis.xlen(STREAM) == 0


async def test_a_body_over_64_kib_is_refused(client: httpx.AsyncClient) -> None:
    body = app_event_body(note="x" * 70 * 1024)
    response = await client.post(URL, content=body, headers=event_headers(body))
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 65536 bytes"}


async def test_without_an_events_secret_the_endpoint_answers_503(
    settings: Settings, redis: aioredis.Redis
) -> None:
    unset = settings.model_copy(update={"autorec_events_secret": None})
    async with serve(unset) as client:
        body = app_event_body()
        response = await client.post(URL, content=body, headers=event_headers(body))
    assert response.status_code == 503
    assert response.json() == {"error": "AUTOREC_EVENTS_SECRET is not configured"}
