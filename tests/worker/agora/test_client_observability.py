"""The rate-limit hook, request ids, per-attempt logs, and secrets kept out of all of them."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from pydantic import SecretStr

from tests.support.agora import builders
from tests.support.agora.harness import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    RECORDER,
    ROOM,
    Harness,
    Pauses,
    dead_url,
    fast_retry,
    join,
    start_recording,
)
from worker.agora import AgoraAuthError, AgoraClient, AgoraInvalidRequest, AgoraTransportError
from worker.agora.models import RecordingMode, UpdateClientRequest

MIX = RecordingMode.MIX
TOKEN = "007eJxTYBBbsMMnKq7p9Hf-token-that-must-not-leak"
SECRETS = (
    CUSTOMER_SECRET,
    base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode(),
    builders.ACCESS_KEY,
    builders.SECRET_KEY,
    builders.STS_TOKEN,
    TOKEN,
)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def test_the_rate_limit_hook_is_awaited_once_per_http_attempt(harness: Harness) -> None:
    awaited: list[int] = []

    async def hook() -> None:
        awaited.append(harness.world.stats.requests_total)

    agora = harness.make_client(rate_limiter=hook)
    await harness.fault(endpoint="user_list", status=503, count=2)
    await agora.channel_users(ROOM)
    # Awaited three times, each time before the sandbox saw the attempt.
    assert awaited == [0, 1, 2]


async def test_the_rate_limit_hook_is_not_awaited_for_refused_input(harness: Harness) -> None:
    awaited: list[None] = []

    async def hook() -> None:
        awaited.append(None)

    agora = harness.make_client(rate_limiter=hook)
    with pytest.raises(ValueError, match="uid"):
        await agora.acquire(cname=ROOM, uid=0, mode=MIX)
    assert awaited == []


async def test_an_error_carries_the_request_id_the_server_sent(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="acquire", status=400, code=2, count=1)
    with pytest.raises(AgoraInvalidRequest) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert caught.value.request_id == harness.gateway.last_id
    assert f"request id {harness.gateway.last_id}" in str(caught.value)


async def test_a_stop_result_carries_the_request_id(harness: Harness, agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert result.request_id == harness.gateway.last_id


async def test_each_attempt_is_logged_with_endpoint_status_code_attempt_and_request_id(
    harness: Harness, agora: AgoraClient, caplog: pytest.LogCaptureFixture
) -> None:
    await harness.fault(endpoint="acquire", status=504, code=62, count=1)
    with caplog.at_level(logging.INFO, logger="worker.agora"):
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    records = [r for r in caplog.records if r.name == "worker.agora"]
    fields = [
        (
            r.agora_endpoint,  # type: ignore[attr-defined]
            r.agora_status,  # type: ignore[attr-defined]
            r.agora_code,  # type: ignore[attr-defined]
            r.agora_attempt,  # type: ignore[attr-defined]
            r.agora_request_id,  # type: ignore[attr-defined]
            r.levelno,
        )
        for r in records
    ]
    assert fields == [
        ("acquire", 504, 62, 1, "req-0001", logging.WARNING),
        ("acquire", 200, None, 2, "req-0002", logging.INFO),
    ]
    assert all(isinstance(r.agora_latency_ms, int) for r in records)  # type: ignore[attr-defined]


async def test_a_transport_failure_is_logged_as_a_warning_naming_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with httpx.AsyncClient() as http:
        agora = AgoraClient(
            http,
            app_id=APP_ID,
            customer_id=CUSTOMER_ID,
            customer_secret=SecretStr(CUSTOMER_SECRET),
            base_urls=[dead_url()],
            retry=fast_retry(Pauses(), max_attempts=2),
        )
        with (
            caplog.at_level(logging.WARNING, logger="worker.agora"),
            pytest.raises(AgoraTransportError),
        ):
            await agora.ncs_ips()
    assert [(r.levelno, "ConnectError" in r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, True),
        (logging.WARNING, True),
    ]


async def test_no_secret_reaches_any_log_during_a_whole_recording(
    harness: Harness, agora: AgoraClient, caplog: pytest.LogCaptureFixture
) -> None:
    await join(harness, 42)
    storage = builders.storage(
        sts_token=SecretStr(builders.STS_TOKEN), sts_expiration=2_000_000_000
    )
    request = builders.mix_start(token=TOKEN, storage_config=storage)
    await harness.fault(endpoint="start", status=429, count=1)
    with caplog.at_level(logging.DEBUG):
        started = await start_recording(agora, MIX, request)
        keys = {"resource_id": started.resource_id, "sid": started.sid or "", "cname": ROOM}
        await agora.update(
            **keys,
            uid=RECORDER,
            mode=MIX,
            client_request=UpdateClientRequest(storage_config=storage),
        )
        await agora.stop(**keys, uid=RECORDER, mode=MIX)
    everything = "\n".join(
        f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records
    )
    assert len(caplog.records) >= 4
    assert leaked(everything) == []


async def test_a_secret_echoed_in_an_agora_reason_is_redacted_from_the_error(
    harness: Harness, agora: AgoraClient
) -> None:
    reason = f"invalid storage: secretKey {builders.SECRET_KEY} refused"
    await harness.fault(endpoint="start", status=400, code=2, reason=reason, count=1)
    with pytest.raises(AgoraInvalidRequest) as caught:
        await start_recording(agora, MIX, builders.mix_start(token=TOKEN))
    text = f"{caught.value} {caught.value.reason} {caught.value!r}"
    assert leaked(text) == []
    assert "invalid storage: secretKey [redacted] refused" in text


async def test_the_customer_secret_echoed_by_a_gateway_is_redacted(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="query", status=401, reason=f"bad password {CUSTOMER_SECRET}")
    with pytest.raises(AgoraAuthError, match=r"\[redacted\]") as caught:
        await agora.query(resource_id="r" * 20, sid="s" * 32, mode=MIX)
    assert leaked(str(caught.value)) == []


async def test_a_json_body_is_sent_as_utf8_json(harness: Harness, agora: AgoraClient) -> None:
    # Agora's current docs ask for application/json, older ones for exactly this value.
    content_types: list[str | None] = []

    async def record(request: httpx.Request) -> None:
        content_types.append(request.headers.get("content-type"))

    harness.http.event_hooks = {"request": [record], "response": []}
    await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert content_types == ["application/json;charset=utf-8"]
