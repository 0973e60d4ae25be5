"""`POST /api/v1/tokens`: AccessToken2 RTC tokens, checked by the sandbox's own reader."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest
from pydantic import SecretStr

from sandbox.tokens import parse_token, verify_rtc_token
from tests.support.webhooks import APP_CERTIFICATE, APP_ID, bearer, serve
from worker.settings import Settings


async def post_token(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post("/api/v1/tokens", json=body, headers=bearer())


async def test_a_token_is_an_accesstoken2_for_the_channel_and_uid(
    client: httpx.AsyncClient,
) -> None:
    before_s = int(time.time())

    answer = await post_token(client, channel="room-1", uid=42, expire_s=600)

    assert answer.status_code == 200
    assert set(answer.json()) == {"token", "expires_at"}
    token = answer.json()["token"]
    assert token.startswith("007")
    valid_until_s = verify_rtc_token(
        token, app_id=APP_ID, certificate=APP_CERTIFICATE, channel="room-1", uid="42",
        now_s=time.time(),
    )  # fmt: skip
    parsed = parse_token(token)
    assert before_s <= parsed.issue_ts <= int(time.time())
    assert parsed.expire_s == 600
    assert datetime.fromisoformat(answer.json()["expires_at"]).timestamp() == valid_until_s


async def test_expires_at_is_rfc3339_utc_expire_s_after_issue(client: httpx.AsyncClient) -> None:
    answer = await post_token(client, channel="room-1", uid=42, expire_s=86_400)

    expires_at = answer.json()["expires_at"]
    assert expires_at.endswith("Z")
    issued = parse_token(answer.json()["token"]).issue_ts
    assert datetime.fromisoformat(expires_at).timestamp() == issued + 86_400


async def test_the_defaults_are_a_publisher_for_an_hour(client: httpx.AsyncClient) -> None:
    answer = await post_token(client, channel="room-1", uid=42)

    parsed = parse_token(answer.json()["token"])
    assert parsed.expire_s == 3600
    assert parsed.rtc().privileges == {1: 3600, 2: 3600, 3: 3600, 4: 3600}


async def test_a_subscriber_token_may_only_join(client: httpx.AsyncClient) -> None:
    answer = await post_token(client, channel="room-1", uid=42, role="subscriber", expire_s=60)

    assert parse_token(answer.json()["token"]).rtc().privileges == {1: 60}


async def test_a_user_account_and_uid_zero_are_accepted(client: httpx.AsyncClient) -> None:
    account = await post_token(client, channel="room-1", uid="alice")
    anyone = await post_token(client, channel="room-1", uid=0)

    assert parse_token(account.json()["token"]).rtc().uid == "alice"
    assert parse_token(anyone.json()["token"]).rtc().uid == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "room-1", "uid": -1}, "uid"),
        ({"channel": "room-1", "uid": 2**32}, "uid"),
        ({"channel": "room-1", "uid": True}, "uid"),
        ({"channel": "room-1", "uid": ""}, "uid"),
        ({"channel": "room-1", "uid": 1.5}, "uid"),
        ({"channel": "room-1", "uid": 42, "role": "admin"}, "role"),
        ({"channel": "room-1", "uid": 42, "expire_s": 0}, "expire_s"),
        ({"channel": "room-1", "uid": 42, "expire_s": 86_401}, "expire_s"),
        ({"channel": "room/1", "uid": 42}, "channel"),
        ({"channel": "x" * 64, "uid": 42}, "channel"),
        ({"uid": 42}, "channel"),
    ],
)
async def test_a_bad_request_answers_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    answer = await client.post("/api/v1/tokens", json=body, headers=bearer())

    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert answer.json()["error"].startswith(f"{field}: ")


async def test_without_a_certificate_the_answer_is_503_naming_it(
    settings: Settings, redis: object
) -> None:
    async with serve(settings.model_copy(update={"agora_app_certificate": None})) as client:
        answer = await post_token(client, channel="room-1", uid=42)

    assert answer.status_code == 503
    assert answer.json() == {"error": "tokens are not configured: set AGORA_APP_CERTIFICATE"}


async def test_without_an_app_id_the_answer_is_503_naming_it(
    settings: Settings, redis: object
) -> None:
    async with serve(settings.model_copy(update={"agora_app_id": None})) as client:
        answer = await post_token(client, channel="room-1", uid=42)

    assert (answer.status_code, answer.json()["error"]) == (
        503,
        "tokens are not configured: set AGORA_APP_ID",
    )


async def test_a_malformed_certificate_is_named_but_never_shown(
    settings: Settings, redis: object
) -> None:
    bad = SecretStr("not-a-hex-certificate")
    async with serve(settings.model_copy(update={"agora_app_certificate": bad})) as client:
        answer = await post_token(client, channel="room-1", uid=42)

    assert answer.status_code == 503
    assert "AGORA_APP_CERTIFICATE" in answer.json()["error"]
    assert "not-a-hex-certificate" not in answer.text
