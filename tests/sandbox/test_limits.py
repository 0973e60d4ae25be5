"""Limits tests rely on: the concurrency cap (406), the QPS limit (429), stats and calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sandbox.app import create_app
from sandbox.config import ManualClock, SandboxConfig
from sandbox.models import Endpoint
from sandbox.world import Sandbox
from tests.support.sandbox import Agora, mix_request


@pytest.fixture
def config(make_config: Callable[..., SandboxConfig]) -> SandboxConfig:
    """Two concurrent recordings, three requests per second."""
    return make_config(max_concurrent=2, qps_limit=3)


@pytest.fixture
async def uncapped(make_config: Callable[..., SandboxConfig]) -> AsyncIterator[Agora]:
    """A second sandbox with the cap but without a QPS limit."""
    config = make_config(max_concurrent=2)
    app = create_app(config)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://sandbox",
            auth=(config.customer_id, config.customer_secret),
        ) as client,
    ):
        yield Agora(client, config)


async def _stats(agora: Agora) -> dict[str, int]:
    stats: dict[str, int] = (await agora.client.get("/_sandbox/stats")).json()
    return stats


async def test_acquire_at_the_cap_answers_406_vendor_over_load(uncapped: Agora) -> None:
    await uncapped.begin("mix", uid="1")
    await uncapped.begin("mix", uid="2")
    response = await uncapped.acquire(uid="3")
    assert (response.status_code, response.json()) == (
        400,
        {"code": 406, "reason": "vendor_over_load"},
    )


async def test_start_that_would_exceed_the_cap_is_refused_and_counted(uncapped: Agora) -> None:
    resources = [(await uncapped.acquire(uid=uid)).json()["resourceId"] for uid in "123"]
    for uid, resource_id in zip("12", resources, strict=False):
        assert (await uncapped.start(resource_id, "mix", mix_request(), uid=uid)).status_code == 200
    refused = await uncapped.start(resources[2], "mix", mix_request(), uid="3")
    stats = await _stats(uncapped)
    assert refused.json()["code"] == 406
    assert (stats["active"], stats["peak_active"], stats["limit_violations"]) == (2, 2, 1)


async def test_stop_frees_a_slot_for_the_next_acquire(uncapped: Agora) -> None:
    first = await uncapped.begin("mix", uid="1")
    await uncapped.begin("mix", uid="2")
    await uncapped.stop(first)
    assert (await uncapped.acquire(uid="3")).status_code == 200


async def test_peak_active_remembers_the_highest_concurrency(uncapped: Agora) -> None:
    first = await uncapped.begin("mix", uid="1")
    await uncapped.begin("mix", uid="2")
    await uncapped.stop(first)
    stats = await _stats(uncapped)
    assert (stats["active"], stats["peak_active"], stats["started_total"]) == (1, 2, 2)


async def test_requests_over_the_qps_limit_answer_429(agora: Agora) -> None:
    answers = [(await agora.client.get("/v1/ncs/ip")).status_code for _ in range(4)]
    last = await agora.client.get("/v1/ncs/ip")
    assert answers == [200, 200, 200, 429]
    assert last.json() == {"message": "API rate limit exceeded"}


async def test_qps_window_slides_with_the_clock(agora: Agora, clock: ManualClock) -> None:
    for _ in range(3):
        await agora.client.get("/v1/ncs/ip")
    clock.advance(1.0)
    assert (await agora.client.get("/v1/ncs/ip")).status_code == 200


async def test_admin_calls_do_not_count_against_the_qps_limit(agora: Agora) -> None:
    for _ in range(5):
        await agora.client.get("/_sandbox/stats")
    assert (await agora.client.get("/v1/ncs/ip")).status_code == 200


async def test_stats_count_requests_and_429s(agora: Agora) -> None:
    for _ in range(5):
        await agora.client.get("/v1/ncs/ip")
    stats = await _stats(agora)
    assert (stats["requests_total"], stats["rejected_429"]) == (5, 2)


async def test_calls_log_records_each_rest_call_with_time_status_and_code(
    agora: Agora, clock: ManualClock
) -> None:
    await agora.acquire()
    clock.advance(0.5)
    await agora.start("unknown", "mix", mix_request())
    calls = (await agora.client.get("/_sandbox/calls")).json()
    assert [(c["endpoint"], c["status"], c["code"]) for c in calls] == [
        ("acquire", 200, None),
        ("start", 400, 1001),
    ]
    assert calls[1]["t"] - calls[0]["t"] == pytest.approx(0.5)
    assert calls[0]["method"] == "POST"
    assert calls[0]["path"].endswith("/acquire")


async def test_calls_log_is_readable_from_the_world(agora: Agora, world: Sandbox) -> None:
    await agora.acquire()
    assert [call.endpoint for call in world.calls] == [Endpoint.ACQUIRE]


async def test_calls_log_leaves_out_admin_calls(agora: Agora) -> None:
    await agora.client.get("/_sandbox/stats")
    assert (await agora.client.get("/_sandbox/calls")).json() == []
