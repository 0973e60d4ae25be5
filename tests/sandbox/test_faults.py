"""Fault rules: forced REST errors, count, rate, latency, 404 windows, lost answers, and the
choice of NCS events a delivery rule acts on."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from sandbox.config import ManualClock, SandboxConfig
from sandbox.faults import FaultBook, FaultRule
from tests.support.sandbox import Agora, mix_request


async def _fault(client: httpx.AsyncClient, **rule: Any) -> httpx.Response:
    return await client.post("/_sandbox/faults", json=rule)


async def test_count_limits_a_rule_to_the_next_n_requests(agora: Agora) -> None:
    await _fault(agora.client, endpoint="acquire", status=503, count=2)
    statuses = [(await agora.acquire(uid=str(uid))).status_code for uid in (1, 2, 3)]
    assert statuses == [503, 503, 200]


async def test_forced_status_without_code_answers_a_gateway_message(agora: Agora) -> None:
    await _fault(agora.client, endpoint="acquire", status=503)
    assert (await agora.acquire()).json() == {"message": "Service Unavailable"}


async def test_forced_code_carries_agoras_reason(agora: Agora) -> None:
    await _fault(agora.client, endpoint="start", status=500, code=502)
    acquired = await agora.acquire()
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    assert (response.status_code, response.json()) == (
        500,
        {"code": 502, "reason": "Failed to allocate worker"},
    )


async def test_forced_406_looks_like_vendor_over_load(agora: Agora) -> None:
    await _fault(agora.client, endpoint="acquire", status=400, code=406)
    assert (await agora.acquire()).json() == {"code": 406, "reason": "vendor_over_load"}


async def test_forced_429_answers_rate_limit_exceeded_and_is_counted(agora: Agora) -> None:
    await _fault(agora.client, endpoint="query", status=429, count=1)
    rec = await agora.begin("mix")
    response = await agora.query(rec)
    stats = (await agora.client.get("/_sandbox/stats")).json()
    assert response.json() == {"message": "API rate limit exceeded"}
    assert stats["rejected_429"] == 1


async def test_rule_for_one_endpoint_leaves_the_others_alone(agora: Agora) -> None:
    await _fault(agora.client, endpoint="query", status=503)
    assert (await agora.acquire()).status_code == 200


async def test_rate_fails_a_seeded_share_of_requests(agora: Agora, config: SandboxConfig) -> None:
    await _fault(agora.client, endpoint="user_list", status=500, code=500, rate=0.5)
    url = f"/dev/v1/channel/user/{config.app_id}/room1"
    statuses = [(await agora.client.get(url)).status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35
    assert statuses.count(200) == 40 - statuses.count(500)


async def test_latency_delays_the_answer(agora: Agora) -> None:
    await _fault(agora.client, endpoint="acquire", latency_ms=200)
    began = time.monotonic()
    response = await agora.acquire()
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.2


async def test_not_found_window_hides_running_tasks_until_it_passes(
    agora: Agora, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    await _fault(agora.client, not_found_s=10)
    hidden = [(await agora.query(rec)).status_code, (await agora.stop(rec)).status_code]
    clock.advance(10)
    assert hidden == [404, 404]
    assert (await agora.query(rec)).status_code == 200


async def test_not_found_window_leaves_acquire_alone(agora: Agora) -> None:
    await _fault(agora.client, not_found_s=10)
    assert (await agora.acquire()).status_code == 200


async def test_lost_answer_lets_the_start_take_effect(agora: Agora) -> None:
    await _fault(agora.client, endpoint="start", status=504, code=62, after=True, count=1)
    acquired = await agora.acquire()
    resource_id = acquired.json()["resourceId"]
    first = await agora.start(resource_id, "mix", mix_request())
    retry = await agora.start(resource_id, "mix", mix_request())
    assert (first.status_code, first.json()["code"]) == (504, 62)
    assert (retry.status_code, retry.json()["code"]) == (201, 7)


async def test_rule_mixing_rest_and_ncs_effects_is_refused(agora: Agora) -> None:
    response = await _fault(agora.client, status=500, ncs_drop_rate=0.5)
    assert response.status_code == 400
    assert "not both" in response.json()["error"]


async def test_rule_with_an_unknown_endpoint_is_refused(agora: Agora) -> None:
    response = await _fault(agora.client, endpoint="acquired", status=500)
    assert response.status_code == 400


async def test_clearing_faults_restores_normal_answers(agora: Agora) -> None:
    await _fault(agora.client, endpoint="acquire", status=503)
    await agora.client.delete("/_sandbox/faults")
    assert (await agora.acquire()).status_code == 200


async def test_faults_listing_shows_live_rules_with_what_remains(agora: Agora) -> None:
    added = (await _fault(agora.client, endpoint="stop", status=503, count=3)).json()
    listed = (await agora.client.get("/_sandbox/faults")).json()
    assert listed == [
        {"id": added["id"], "remaining": 3, "endpoint": "stop", "status": 503, "count": 3}
    ]


LEAVES = [102, 104, 106, 108]


def _book(*rules: FaultRule) -> FaultBook:
    book = FaultBook(ManualClock(), random.Random(7))
    for rule in rules:
        book.add(rule)
    return book


def test_an_ncs_rule_with_event_types_acts_only_on_those_types() -> None:
    book = _book(FaultRule(ncs_drop_rate=1.0, ncs_event_types=frozenset(LEAVES)))
    assert [book.for_ncs(kind).drop for kind in (101, 107, 108, 102, 11)] == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_an_ncs_rule_with_event_types_counts_only_the_events_it_acted_on() -> None:
    book = _book(FaultRule(ncs_drop_rate=1.0, ncs_event_types=frozenset([108]), count=1))
    assert [book.for_ncs(kind).drop for kind in (107, 108, 108)] == [False, True, False]


def test_rate_reorders_a_seeded_share_of_ncs_events() -> None:
    book = _book(FaultRule(ncs_reorder=True, rate=0.25))
    reordered = sum(book.for_ncs(107).reorder for _ in range(400))
    assert 60 < reordered < 140


def test_an_ncs_reorder_rule_without_rate_holds_every_event() -> None:
    book = _book(FaultRule(ncs_reorder=True))
    assert all(book.for_ncs(107).reorder for _ in range(20))


async def test_event_types_on_a_rest_rule_are_refused(agora: Agora) -> None:
    response = await _fault(agora.client, endpoint="query", status=503, ncs_event_types=[108])
    assert response.status_code == 400
    assert "ncs_event_types" in response.json()["error"]


async def test_faults_listing_shows_event_types_as_a_list(agora: Agora) -> None:
    await _fault(agora.client, ncs_drop_rate=0.1, ncs_event_types=[108])
    listed = (await agora.client.get("/_sandbox/faults")).json()
    assert listed[0]["ncs_event_types"] == [108]
