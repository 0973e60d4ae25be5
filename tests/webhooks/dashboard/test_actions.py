"""The dashboard's buttons: record now, stop now, back to automatic, each a POST form with
the session's CSRF token that writes the channel's override as the API does."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support.webhooks import API_READ_TOKEN, API_TOKEN
from tests.webhooks.dashboard.support import join, logged_in, now_ms
from worker.state.overrides import Override, OverrideStore, Record


async def override(redis: aioredis.Redis, channel: str) -> Override | None:
    return await OverrideStore(redis).get(channel)


async def test_record_now_sets_the_override_always_and_returns_to_the_channel(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/room-1/record", data={"csrf": csrf})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/channels/room-1?done=record"
    held = await override(redis, "room-1")
    assert held is not None
    assert (held.record, held.until_empty) == (Record.ALWAYS, False)
    page = await client.get(answer.headers["location"])
    assert "Record now: the channel records as soon as a slot is free." in page.text


async def test_stop_now_sets_the_override_never_until_the_channel_is_empty(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    await join(redis, "room-1", 101, await now_ms(redis))
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/room-1/stop?next=overview", data={"csrf": csrf})

    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard?done=stop")
    held = await override(redis, "room-1")
    assert held is not None
    assert (held.record, held.until_empty) == (Record.NEVER, True)


async def test_stop_now_of_a_channel_never_seen_writes_nothing(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/nowhere/stop", data={"csrf": csrf})

    assert answer.headers["location"].endswith("?done=unknown")
    assert await override(redis, "nowhere") is None


async def test_back_to_automatic_clears_the_override(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)
    await client.post("/dashboard/channels/room-1/record", data={"csrf": csrf})

    answer = await client.post("/dashboard/channels/room-1/auto", data={"csrf": csrf})

    assert answer.headers["location"] == "/dashboard/channels/room-1?done=auto"
    assert await override(redis, "room-1") is None


async def test_a_channel_name_with_url_characters_is_acted_on_as_named(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/a%20b%23c%3F/record", data={"csrf": csrf})

    assert answer.headers["location"] == "/dashboard/channels/a%20b%23c%3F?done=record"
    assert await override(redis, "a b#c?") is not None


@pytest.mark.parametrize(
    "form", [{}, {"csrf": ""}, {"csrf": "not-the-token"}], ids=["missing", "empty", "wrong"]
)
async def test_an_action_without_the_sessions_csrf_token_answers_403(
    client: httpx.AsyncClient, redis: aioredis.Redis, form: dict[str, str]
) -> None:
    await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/room-1/record", data=form)

    assert answer.status_code == 403
    assert await override(redis, "room-1") is None


async def test_the_csrf_token_of_another_session_answers_403(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    stale = await logged_in(client, API_TOKEN)
    await logged_in(client, API_TOKEN)  # a new login: a new session

    answer = await client.post("/dashboard/channels/room-1/record", data={"csrf": stale})

    assert answer.status_code == 403
    assert await override(redis, "room-1") is None


async def test_a_csrf_token_sent_as_json_is_not_a_form_and_answers_403(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/room-1/record", json={"csrf": csrf})

    assert answer.status_code == 403


async def test_a_post_from_another_origin_answers_403_even_with_the_token(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post(
        "/dashboard/channels/room-1/record",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )

    assert answer.status_code == 403
    assert await override(redis, "room-1") is None


@pytest.mark.parametrize("action", ["record", "stop", "auto"])
async def test_the_read_only_login_cannot_act_even_with_its_csrf_token(
    client: httpx.AsyncClient, redis: aioredis.Redis, action: str
) -> None:
    await join(redis, "room-1", 101, await now_ms(redis))
    csrf = await logged_in(client, API_READ_TOKEN)

    answer = await client.post(f"/dashboard/channels/room-1/{action}", data={"csrf": csrf})

    assert answer.status_code == 403
    assert await override(redis, "room-1") is None


async def test_an_unknown_action_answers_404(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/channels/room-1/explode", data={"csrf": csrf})

    assert answer.status_code == 404
    assert await override(redis, "room-1") is None


async def test_a_bad_channel_name_answers_400(client: httpx.AsyncClient) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post(f"/dashboard/channels/{'x' * 80}/record", data={"csrf": csrf})

    assert answer.status_code == 400
