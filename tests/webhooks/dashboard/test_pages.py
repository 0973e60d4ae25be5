"""The dashboard's pages render what Redis holds (put there with the worker's own stores),
refresh through their fragments, and never show a secret."""

from __future__ import annotations

import re

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support.webhooks import API_READ_TOKEN, API_TOKEN, STREAM
from tests.webhooks.dashboard.support import (
    failure,
    finished,
    join,
    logged_in,
    notification,
    now_ms,
    running,
)
from webhooks.dashboard.session import COOKIE
from worker import keys
from worker.settings import Settings
from worker.state.history import HistoryStore, Outcome
from worker.state.overrides import Override, OverrideStore, Record
from worker.state.ratelimit import RateLimiter
from worker.state.slots import Slots

STOP_REFUSED = "AgoraError: HTTP 400 code 53: task conflict (sid unknown)"
NO_CAPACITY = "AgoraNoCapacity: HTTP 400 code 2: vendor_over_load"


def section(page: str, section_id: str) -> str:
    """The HTML of one `<section id=...>` of a page."""
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', page, re.S)
    assert found is not None, f"no section {section_id}"
    return found.group(0)


@pytest.fixture
async def seeded(redis: aioredis.Redis, settings: Settings) -> int:
    """Two channels recording, two waiting (limit 2), finished recordings, failures, a
    pending notification, Agora requests, an override; returns the Redis time used."""
    now = await now_ms(redis)
    history = HistoryStore(redis, history_days=settings.autorec_session_history_days)
    for n, channel in enumerate(("live-a", "live-b", "queued-1", "queued-2")):
        await join(redis, channel, 100 + n, now - 5_000)
    await running(redis, "live-a", "sid-live-a", now - 125_000, limit=2)
    await running(redis, "live-b", "sid-live-b", now - 3_000, limit=2)
    await Slots(redis, limit=2).acquire("queued-1")
    await Slots(redis, limit=2).acquire("queued-2")
    await finished(history, "past-1", "sid-past-1", now - 600_000)
    await finished(
        history,
        "past-2",
        "sid-past-2",
        now - 300_000,
        outcome=Outcome.DIED,
        stop_reason=None,
        error="AgoraError: HTTP 404 code 404: task not found",
        files=0,
    )
    await failure(history, "queued-1", now - 20_000, NO_CAPACITY)
    await failure(history, "queued-2", now - 10_000, NO_CAPACITY)
    await failure(history, "live-a", now - 5_000, STOP_REFUSED)
    await notification(redis, settings.autorec_notify_urls[0], now - 42_000)
    limiter = RateLimiter(redis, qps=10)
    for _ in range(3):
        await limiter.acquire()
    await OverrideStore(redis).put(
        "live-a", Override(record=Record.ALWAYS, set_at_ms=now - 130_000)
    )
    return now


async def test_the_overview_shows_slots_queue_running_recent_and_failures(
    client: httpx.AsyncClient, seeded: int
) -> None:
    await logged_in(client, API_TOKEN)

    page = (await client.get("/dashboard")).text

    assert re.search(r'data-figure="slots-used">2</span> / 50', page)
    queue = section(page, "queue")
    assert queue.index("queued-1") < queue.index("queued-2")
    live = section(page, "running")
    for text in ("live-a", "sid-live-a", "individual", "both", "2m 05s", "200 running"):
        assert text in live, text
    assert "Stop now" in live
    recent = section(page, "recent")
    assert recent.index("past-2") < recent.index("past-1"), "newest first"
    for text in ("stopped", "empty", "uploaded", "died", "404"):
        assert text in recent, text
    failures = section(page, "failures")
    rows = re.findall(r"<tr>.*?</tr>", failures, re.S)
    assert "400 / 2" in rows[1], "the biggest group first"
    assert ">2<" in rows[1], "two no-capacity failures, grouped"
    assert "400 / 53" in rows[2]


async def test_the_overview_cards_show_the_rates_stream_workers_and_backlog(
    client: httpx.AsyncClient, redis: aioredis.Redis, seeded: int
) -> None:
    await redis.xgroup_create(STREAM, keys.CONSUMER_GROUP, id="0", mkstream=True)
    for n in range(5):
        await redis.xadd(STREAM, {keys.FIELD_EVENT: f'{{"id":"e{n}"}}'})
    await redis.xreadgroup(keys.CONSUMER_GROUP, "worker-a", {STREAM: ">"}, count=2)
    await redis.xadd(keys.dead_letter(STREAM), {"dl_reason": "malformed"})
    await logged_in(client, API_TOKEN)

    page = (await client.get("/dashboard")).text

    assert re.search(r'id="agora-rate">.*?3 / 10', page, re.S)
    assert re.search(r'id="ingest">.*?0\.5/s.*?stream 5 · pending 2', page, re.S)
    assert re.search(r'id="dead-letters">.*?"figure">1<', page, re.S)
    assert re.search(r'id="workers">.*?"figure">1<', page, re.S)
    assert re.search(r'id="notifications">.*?1 pending.*?oldest 4\ds', page, re.S)
    assert "worker-a" in section(page, "workers-list")


async def test_the_fragment_is_the_live_part_of_the_overview(
    client: httpx.AsyncClient, seeded: int
) -> None:
    await logged_in(client, API_TOKEN)

    fragment = await client.get("/dashboard/fragment/overview")

    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="running"' in fragment.text
    assert fragment.headers["cache-control"] == "no-store"


async def test_the_overview_page_fetches_its_fragment_with_the_shipped_script(
    client: httpx.AsyncClient,
) -> None:
    await logged_in(client, API_TOKEN)
    page = (await client.get("/dashboard")).text

    assert 'data-fragment="/dashboard/fragment/overview"' in page
    for asset in ("/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"):
        assert asset in page
        served = await client.get(asset)
        assert served.status_code == 200, asset
    assert "https://" not in page, "nothing from another site"


async def test_the_channel_page_shows_state_override_recording_and_timeline(
    client: httpx.AsyncClient, redis: aioredis.Redis, settings: Settings, seeded: int
) -> None:
    history = HistoryStore(redis, history_days=settings.autorec_session_history_days)
    await finished(history, "live-a", "sid-old-a", seeded - 900_000, stop_reason="manual")
    await logged_in(client, API_TOKEN)

    page = (await client.get("/dashboard/channels/live-a")).text

    state = section(page, "channel-state")
    assert 'data-figure="state">recording<' in state
    assert "<strong>always</strong>" in state
    for action in ("record", "stop", "auto"):
        assert f'action="/dashboard/channels/live-a/{action}"' in state
    assert "sid-live-a" in section(page, "current")
    recordings = section(page, "recordings")
    assert "sid-old-a" in recordings
    assert "manual" in recordings
    timeline = section(page, "timeline")
    assert "Built from what Redis keeps" in timeline
    for text in ("uid 100 joined (host)", "started, sid sid-old-a", "override always", "code 53"):
        assert text in timeline, text
    assert 'data-fragment="/dashboard/fragment/channels/live-a"' in page
    fragment = await client.get("/dashboard/fragment/channels/live-a")
    assert fragment.status_code == 200
    assert 'id="timeline"' in fragment.text


async def test_an_unknown_channel_page_answers_404(client: httpx.AsyncClient) -> None:
    await logged_in(client, API_TOKEN)

    assert (await client.get("/dashboard/channels/never-seen")).status_code == 404
    assert (await client.get("/dashboard/fragment/channels/never-seen")).status_code == 404


async def test_the_read_only_login_sees_disabled_buttons_and_no_action_form(
    client: httpx.AsyncClient, seeded: int
) -> None:
    await logged_in(client, API_READ_TOKEN)

    for path in ("/dashboard", "/dashboard/channels/live-a"):
        page = (await client.get(path)).text
        buttons = re.findall(r"<button[^>]*data-action[^>]*>", page)
        assert buttons, path
        assert all("disabled" in button for button in buttons), path
        assert "/record" not in page
        assert "/stop" not in page
        assert "/auto" not in page


async def test_no_page_shows_a_secret(
    client: httpx.AsyncClient, settings: Settings, seeded: int
) -> None:
    secrets = [*settings.secret_values(), API_TOKEN, API_READ_TOKEN, "hook-url-secret-4711"]
    secrets += settings.autorec_notify_urls
    answers = [(await client.get("/dashboard/login")).text]
    login = await client.post("/dashboard/login", data={"token": API_TOKEN})
    answers.append(login.text + login.headers["set-cookie"])
    for path in (
        "/dashboard",
        "/dashboard/fragment/overview",
        "/dashboard/channels/live-a",
        "/dashboard/fragment/channels/live-a",
        "/dashboard/channels/past-2",
    ):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        answers.append(answer.text)
    await client.post("/dashboard/login", data={"token": API_READ_TOKEN})
    answers.append((await client.get("/dashboard")).text)
    answers.append(client.cookies[COOKIE])

    for secret in secrets:
        assert secret
        for text in answers:
            assert secret not in text
