"""GET /metrics: webhook outcomes and latency, plus shared state read from Redis."""

from __future__ import annotations

import logging

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from tests.support.webhooks import STREAM, ncs_body, ncs_headers, serve
from webhooks.app import create_app
from worker import keys
from worker.dev.redis_server import free_port
from worker.settings import Settings


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float | None:
    return _samples(text).get((name, frozenset(labels.items())))


async def _scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_each_webhook_outcome_is_counted(client: httpx.AsyncClient) -> None:
    body = ncs_body()
    await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    await client.post("/webhooks/agora", content=body, headers=ncs_headers(body, "wrong"))
    await client.post("/webhooks/agora", content=b"x" * 70_000)
    bad_json = b"[]"
    await client.post("/webhooks/agora", content=bad_json, headers=ncs_headers(bad_json))
    text = await _scrape(client)
    name = "autorec_webhooks_received_total"
    counts = {
        outcome: _value(text, name, source="agora", outcome=outcome)
        for outcome in ("accepted", "duplicate", "bad_signature", "too_large", "malformed")
    }
    assert counts == dict.fromkeys(counts, 1.0)
    assert _value(text, name, source="events", outcome="accepted") == 0.0


async def test_request_latency_is_observed_per_source(client: httpx.AsyncClient) -> None:
    body = ncs_body()
    await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    text = await _scrape(client)
    count = "autorec_webhook_request_duration_seconds_count"
    assert _value(text, count, source="agora") == 1.0
    assert _value(text, count, source="events") == 0.0


async def test_shared_state_gauges_are_read_from_redis_at_scrape_time(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    await redis.zadd(keys.SLOTS, {"room-1": 1, "room-2": 2})
    await redis.zadd(keys.WAITING, {"room-3": 1})
    await redis.xadd(STREAM, {"event": b"{}"})
    text = await _scrape(client)
    assert _value(text, "autorec_recording_slots_in_use") == 2.0
    assert _value(text, "autorec_recording_slots_limit") == 50.0
    assert _value(text, "autorec_recordings_waiting") == 1.0
    assert _value(text, "autorec_events_stream_length") == 1.0


async def test_metrics_answer_without_redis_and_omit_what_needs_it(settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve(dead) as client:
        text = await _scrape(client)
    assert _value(text, "process_cpu_seconds_total") is not None
    assert _value(text, "autorec_recording_slots_limit") == 50.0
    assert _value(text, "autorec_recording_slots_in_use") is None
    assert _value(text, "autorec_events_stream_length") is None


async def test_a_redis_outage_is_counted_as_unavailable(settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve(dead) as client:
        body = ncs_body()
        response = await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
        text = await _scrape(client)
    assert (response.status_code, response.json()) == (
        503,
        {"error": "event queue is unavailable"},
    )
    name = "autorec_webhooks_received_total"
    assert _value(text, name, source="agora", outcome="unavailable") == 1.0


async def test_two_apps_in_one_process_count_separately(
    settings: Settings, redis: aioredis.Redis
) -> None:
    body = ncs_body()
    async with serve(settings) as first, serve(settings) as second:
        await first.post("/webhooks/agora", content=body, headers=ncs_headers(body))
        text = await _scrape(second)
    name = "autorec_webhooks_received_total"
    assert _value(text, name, source="agora", outcome="accepted") == 0.0


async def test_metrics_answer_openmetrics_when_the_scraper_asks_for_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert response.text.count("# EOF") == 1
    assert "autorec_recording_slots_limit 50.0" in response.text


async def test_metrics_include_the_process_and_python_metrics(client: httpx.AsyncClient) -> None:
    text = await _scrape(client)
    assert _value(text, "process_resident_memory_bytes") is not None
    assert any(name.startswith("python_info") for name, _ in _samples(text))


async def test_a_max_api_qps_above_agoras_default_is_logged_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="webhooks.app"):
        create_app(settings.model_copy(update={"autorec_max_api_qps": 50}))
    warnings = [r.getMessage() for r in caplog.records if "AUTOREC_MAX_API_QPS" in r.getMessage()]
    assert len(warnings) == 1
