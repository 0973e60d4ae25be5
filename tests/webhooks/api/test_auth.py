"""Bearer auth of `/api/v1`: 503 while unconfigured, 401 without the right token, 403 for the
read token on a write; the docs need no token; no token ever appears in an answer."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.support.webhooks import API_READ_TOKEN, API_TOKEN, bearer, serve
from worker.settings import Settings

TOKEN_BODY = {"channel": "room-1", "uid": 42}


async def test_every_api_route_answers_503_naming_the_variable_while_no_token_is_set(
    settings: Settings, redis: object
) -> None:
    unconfigured = settings.model_copy(
        update={"autorec_api_token": None, "autorec_api_read_token": None}
    )
    async with serve(unconfigured) as client:
        answers = [
            await client.get("/api/v1/status", headers=bearer()),
            await client.post("/api/v1/tokens", json=TOKEN_BODY, headers=bearer()),
        ]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json() == {"error": "the API is not configured: set AUTOREC_API_TOKEN"}


async def test_an_empty_api_token_leaves_the_api_unconfigured(
    settings: Settings, redis: object
) -> None:
    empty = settings.model_copy(update={"autorec_api_token": SecretStr("")})
    async with serve(empty) as client:
        answer = await client.get("/api/v1/status", headers={"Authorization": "Bearer "})
    assert answer.status_code == 503


async def test_a_request_without_a_token_answers_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/v1/status")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json() == {"error": "missing bearer token (Authorization: Bearer <token>)"}


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {API_TOKEN}x", "Bearer wrong", f"Basic {API_TOKEN}", API_TOKEN, "Bearer"],
)
async def test_a_wrong_token_answers_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, authorization: str
) -> None:
    answer = await client.get("/api/v1/status", headers={"Authorization": authorization})

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert API_TOKEN not in answer.text


async def test_the_scheme_name_is_case_insensitive(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/status", headers={"Authorization": f"bearer {API_TOKEN}"})
    assert answer.status_code == 200


async def test_the_read_token_may_get(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/status", headers=bearer(API_READ_TOKEN))
    assert answer.status_code == 200


async def test_the_read_token_may_not_post(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", json=TOKEN_BODY, headers=bearer(API_READ_TOKEN))

    assert answer.status_code == 403
    assert "read-only" in answer.json()["error"]
    assert API_READ_TOKEN not in answer.text


async def test_the_full_token_may_post(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", json=TOKEN_BODY, headers=bearer())
    assert answer.status_code == 200


async def test_the_read_token_is_refused_when_only_the_full_token_is_set(
    settings: Settings, redis: object
) -> None:
    async with serve(settings.model_copy(update={"autorec_api_read_token": None})) as client:
        answer = await client.get("/api/v1/status", headers=bearer(API_READ_TOKEN))
    assert answer.status_code == 401


async def test_the_token_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/tokens", content=b"[not json")
    assert answer.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/docs", "/api/v1/openapi.json", "/api/v1/docs/init.js"])
async def test_the_docs_and_the_openapi_document_need_no_token(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200


async def test_no_answer_of_the_api_contains_a_configured_secret(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answers = [
        await client.get("/api/v1/status", headers=bearer()),
        await client.get("/api/v1/status", headers=bearer(API_READ_TOKEN)),
        await client.get("/api/v1/status", headers=bearer("wrong")),
        await client.post("/api/v1/tokens", json=TOKEN_BODY, headers=bearer(API_READ_TOKEN)),
        await client.post("/api/v1/tokens", json=TOKEN_BODY, headers=bearer()),
        await client.get("/api/v1/openapi.json"),
        await client.get("/api/v1/docs"),
    ]
    secrets = settings.secret_values()
    assert API_TOKEN in secrets
    assert API_READ_TOKEN in secrets
    for answer in answers:
        for secret in secrets:
            assert secret not in answer.text
            assert all(secret not in value for value in answer.headers.values())
