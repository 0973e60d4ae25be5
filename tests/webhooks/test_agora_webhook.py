"""POST /webhooks/agora: Agora NCS notifications, verified and enqueued once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis

from tests.support.webhooks import NCS_SECRET, STREAM, ncs_body, ncs_headers, serve
from worker import keys
from worker.settings import Settings

URL = "/webhooks/agora"


async def test_a_signed_notification_is_accepted(client: httpx.AsyncClient) -> None:
    body = ncs_body()
    response = await client.post(URL, content=body, headers=ncs_headers(body))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


async def test_the_raw_body_is_enqueued_as_ncs_with_source_and_receive_time(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    # Key order and spacing a JSON re-serializer would change: the entry must keep the bytes.
    body = b'{ "payload": {"uid": 42, "channelName": "room-1"}, "noticeId": "n-1" }'
    await client.post(URL, content=body, headers=ncs_headers(body))
    [(_, fields)] = await redis.xrange(STREAM)
    assert fields[keys.FIELD_NCS.encode()] == body
    assert fields[keys.FIELD_SOURCE.encode()] == b"agora"
    assert int(fields[keys.FIELD_RECEIVED_MS.encode()]) > 1_700_000_000_000
    assert keys.FIELD_EVENT.encode() not in fields


async def test_the_notice_id_is_remembered_for_deduplication(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = ncs_body("2000001428:4330:107")
    await client.post(URL, content=body, headers=ncs_headers(body))
    assert await redis.exists(keys.dedupe("agora", "2000001428:4330:107")) == 1


async def test_a_replayed_notification_is_answered_ok_and_enqueued_once(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    first = ncs_body("n-1")
    # NCS updates notifyMs on every resend: same noticeId, different bytes.
    resend = ncs_body("n-1", notifyMs=1611566499999)
    for body in (first, resend, first):
        response = await client.post(URL, content=body, headers=ncs_headers(body))
        assert (response.status_code, response.json()) == (200, {"ok": True})
    assert await redis.xlen(STREAM) == 1


async def test_a_tampered_body_is_rejected(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = ncs_body()
    tampered = body.replace(b'"uid":42', b'"uid":43')
    response = await client.post(URL, content=tampered, headers=ncs_headers(body))
    assert response.status_code == 401
    assert response.json() == {"error": "Agora-Signature-V2 does not match the body"}
    assert await redis.xlen(STREAM) == 0


async def test_a_signature_made_with_another_secret_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    body = ncs_body()
    response = await client.post(URL, content=body, headers=ncs_headers(body, "not-the-secret"))
    assert response.status_code == 401


async def test_a_missing_signature_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=ncs_body())
    assert response.status_code == 401
    assert response.json() == {"error": "missing Agora-Signature-V2 header"}


async def test_a_signed_body_that_is_not_json_is_malformed(client: httpx.AsyncClient) -> None:
    body = b"noticeId=n-1"
    response = await client.post(URL, content=body, headers=ncs_headers(body))
    assert response.status_code == 400
    assert response.json() == {"error": "body is not valid JSON"}


async def test_a_signed_body_without_notice_id_is_malformed(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = b'{"productId":1,"eventType":101,"payload":{}}'
    response = await client.post(URL, content=body, headers=ncs_headers(body))
    assert response.status_code == 400
    assert response.json() == {"error": "noticeId must be a non-empty string"}
    assert await redis.xlen(STREAM) == 0


async def test_a_body_over_64_kib_is_refused_by_its_length(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    body = ncs_body(padding="x" * 70 * 1024)
    response = await client.post(URL, content=body, headers=ncs_headers(body))
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 65536 bytes"}
    assert await redis.xlen(STREAM) == 0


async def test_a_chunked_body_over_64_kib_is_refused_while_streaming(
    client: httpx.AsyncClient,
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            sent.append(1)
            yield b"x" * 1024

    response = await client.post(URL, content=chunks(), headers={"Agora-Signature-V2": "00"})
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert len(sent) == 65  # stopped at the first chunk past 64 KiB, not at the end


async def test_a_body_of_exactly_64_kib_is_not_too_large(client: httpx.AsyncClient) -> None:
    body = ncs_body()
    body = body[:-1] + b',"pad":"' + b"x" * (64 * 1024 - len(body) - 9) + b'"}'
    assert len(body) == 64 * 1024
    response = await client.post(URL, content=body, headers=ncs_headers(body))
    assert response.status_code == 200


async def test_without_an_ncs_secret_the_endpoint_answers_503(
    settings: Settings, redis: aioredis.Redis
) -> None:
    unset = settings.model_copy(update={"agora_ncs_secret": None})
    async with serve(unset) as client:
        body = ncs_body()
        response = await client.post(URL, content=body, headers=ncs_headers(body, NCS_SECRET))
    assert response.status_code == 503
    assert response.json() == {"error": "AGORA_NCS_SECRET is not configured"}


async def test_get_is_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}
