"""Logging in to the dashboard: the token form, the signed session cookie, logging out."""

from __future__ import annotations

import httpx

from tests.support.webhooks import API_READ_TOKEN, API_TOKEN, api_settings, serve
from tests.webhooks.dashboard.support import csrf_of, log_in, logged_in
from webhooks.dashboard.session import COOKIE
from worker.settings import Settings


async def test_the_overview_without_a_session_redirects_to_the_login_form(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/dashboard")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login"


async def test_a_channel_page_without_a_session_redirects_to_the_login_form(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/dashboard/channels/room-1")

    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/login")


async def test_the_live_data_endpoint_without_a_session_answers_401(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/dashboard/fragment/overview")).status_code == 401
    assert (await client.get("/dashboard/fragment/channels/room-1")).status_code == 401


async def test_an_action_without_a_session_answers_401(client: httpx.AsyncClient) -> None:
    answer = await client.post("/dashboard/channels/room-1/record", data={"csrf": "x"})

    assert answer.status_code == 401


async def test_the_login_form_is_served_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/dashboard/login")

    assert answer.status_code == 200
    assert 'name="token"' in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


async def test_the_full_token_logs_in_with_a_signed_http_only_strict_cookie(
    client: httpx.AsyncClient,
) -> None:
    answer = await log_in(client, API_TOKEN)

    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/dashboard", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), attribute
    assert API_TOKEN not in cookie
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "full access" in page.text


async def test_the_read_token_logs_in_read_only(client: httpx.AsyncClient) -> None:
    answer = await log_in(client, API_READ_TOKEN)

    assert answer.status_code == 303
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "read-only" in page.text
    assert API_READ_TOKEN not in answer.headers["set-cookie"]


async def test_a_wrong_token_is_refused_without_a_cookie(client: httpx.AsyncClient) -> None:
    answer = await log_in(client, API_TOKEN + "x")

    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "not an API token" in answer.text
    assert (await client.get("/dashboard")).status_code == 303


async def test_an_empty_token_is_refused(client: httpx.AsyncClient) -> None:
    assert (await log_in(client, "")).status_code == 401


async def test_a_tampered_cookie_is_no_session(client: httpx.AsyncClient) -> None:
    await log_in(client, API_READ_TOKEN)
    value = client.cookies[COOKIE]
    # Claim full access with the read session's signature.
    client.cookies.clear()
    client.cookies.set(COOKIE, value.replace(value[:4], "eyJh", 1) + "x", path="/dashboard")

    assert (await client.get("/dashboard")).status_code == 303


async def test_a_cookie_of_a_service_with_other_tokens_is_no_session(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    other = api_settings(redis_url, autorec_api_token="another-full-token-0123456789")
    async with serve(other) as elsewhere:
        await log_in(elsewhere, "another-full-token-0123456789")
        foreign = elsewhere.cookies[COOKIE]
    client.cookies.set(COOKIE, foreign, path="/dashboard")

    assert (await client.get("/dashboard")).status_code == 303


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/logout", data={"csrf": csrf})

    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/login")
    assert (
        "Max-Age=0" in answer.headers["set-cookie"]
        or "expires=" in answer.headers["set-cookie"].lower()
    )
    assert (await client.get("/dashboard")).status_code == 303


async def test_logout_without_the_csrf_token_answers_403_and_keeps_the_session(
    client: httpx.AsyncClient,
) -> None:
    await logged_in(client, API_TOKEN)

    answer = await client.post("/dashboard/logout", data={})

    assert answer.status_code == 403
    assert (await client.get("/dashboard")).status_code == 200


async def test_the_read_only_login_may_log_out(client: httpx.AsyncClient) -> None:
    csrf = await logged_in(client, API_READ_TOKEN)

    assert (await client.post("/dashboard/logout", data={"csrf": csrf})).status_code == 303


async def test_a_new_login_gets_a_new_csrf_token(client: httpx.AsyncClient) -> None:
    first = await logged_in(client, API_TOKEN)
    second = await logged_in(client, API_TOKEN)

    assert first != second
    assert csrf_of((await client.get("/dashboard")).text) == second


async def test_without_an_api_token_the_dashboard_answers_503_naming_the_variable(
    settings: Settings, redis: object
) -> None:
    off = settings.model_copy(update={"autorec_api_token": None})
    async with serve(off) as client:
        for answer in (
            await client.get("/dashboard"),
            await client.get("/dashboard/login"),
            await log_in(client, API_READ_TOKEN),
        ):
            assert answer.status_code == 503
            assert "AUTOREC_API_TOKEN" in answer.text
