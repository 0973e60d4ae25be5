"""NCS delivery to a receiver: signed raw bodies, resends, and the ncs_* fault rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.config import ManualClock, SandboxConfig
from sandbox.world import Sandbox
from tests.support.sandbox import Agora, NcsReceiver
from tests.support.waiting import eventually

SECRET = "ncs-secret"


@pytest.fixture
def receiver() -> NcsReceiver:
    """The NCS endpoint the sandbox posts to."""
    return NcsReceiver()


@pytest.fixture
def config(make_config: Callable[..., SandboxConfig], receiver: NcsReceiver) -> SandboxConfig:
    """NCS goes to the receiver, with quick resends."""
    return make_config(
        ncs_url="http://receiver/ncs",
        ncs_secret=SECRET,
        ncs_transport=httpx.ASGITransport(receiver.app()),
        ncs_retry_delays_s=(0.0, 0.01, 0.02),
    )


@pytest.fixture
async def admin(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the admin API."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://sandbox"
    ) as client:
        yield client


def _bodies(receiver: NcsReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


async def _join(admin: httpx.AsyncClient, uid: int = 42) -> None:
    await admin.post("/_sandbox/channels/room1/join", json={"uid": uid})


async def test_events_arrive_with_both_signatures_over_the_raw_body(
    admin: httpx.AsyncClient, receiver: NcsReceiver
) -> None:
    await _join(admin)
    await eventually(lambda: len(receiver.received) == 2)
    for got in receiver.received:
        sha256 = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
        sha1 = hmac.new(SECRET.encode(), got.body, hashlib.sha1).hexdigest()
        assert hmac.compare_digest(got.headers["agora-signature-v2"], sha256)
        assert hmac.compare_digest(got.headers["agora-signature"], sha1)


async def test_events_carry_the_ncs_envelope(
    admin: httpx.AsyncClient, receiver: NcsReceiver
) -> None:
    await _join(admin)
    await eventually(lambda: len(receiver.received) == 2)
    body = _bodies(receiver)[1]
    assert set(body) == {"noticeId", "productId", "eventType", "notifyMs", "payload"}
    assert (body["productId"], body["eventType"], body["payload"]["uid"]) == (1, 107, 42)


async def test_events_arrive_in_emission_order(
    admin: httpx.AsyncClient, receiver: NcsReceiver
) -> None:
    for uid in (1, 2, 3):
        await _join(admin, uid)
    await eventually(lambda: len(receiver.received) == 4)
    assert [b["eventType"] for b in _bodies(receiver)] == [101, 107, 107, 107]


async def test_failed_delivery_is_resent_until_accepted(
    admin: httpx.AsyncClient, receiver: NcsReceiver, world: Sandbox
) -> None:
    receiver.statuses = [500, 503]
    await _join(admin)
    await eventually(lambda: all(e.delivered == 1 for e in world.ncs_events))
    ids = [b["noticeId"] for b in _bodies(receiver)]
    assert sorted(ids) == sorted(e.notice_id for e in world.ncs_events for _ in range(2))
    assert [e.attempts for e in world.ncs_events] == [2, 2]


async def test_a_resend_carries_a_fresh_notify_ms(
    admin: httpx.AsyncClient, receiver: NcsReceiver, world: Sandbox, clock: ManualClock
) -> None:
    receiver.statuses = [500]
    receiver.on_receive = lambda _got: clock.advance(1)
    await _join(admin)
    await eventually(lambda: all(e.delivered == 1 for e in world.ncs_events))
    first_try, resend = [b for b in _bodies(receiver) if b["eventType"] == 101]
    assert resend["noticeId"] == first_try["noticeId"]
    assert resend["notifyMs"] > first_try["notifyMs"]


async def test_delivery_gives_up_after_three_resends(
    admin: httpx.AsyncClient, receiver: NcsReceiver, world: Sandbox, app: Starlette
) -> None:
    receiver.statuses = [500] * 20
    await _join(admin)
    await app.state.ncs_dispatcher.wait_idle()
    assert [e.attempts for e in world.ncs_events] == [4, 4]
    assert [e.delivered for e in world.ncs_events] == [0, 0]


async def test_every_attempt_is_logged_with_when_it_was_sent_and_its_answer(
    admin: httpx.AsyncClient, receiver: NcsReceiver, world: Sandbox, app: Starlette
) -> None:
    receiver.statuses = [503]
    await _join(admin)
    await app.state.ncs_dispatcher.wait_idle()
    first = (await admin.get("/_sandbox/ncs")).json()[0]
    assert [status for _, status in first["answers"]] == [503, 200]
    assert first["emitted_at_s"] <= first["answers"][0][0] <= first["answers"][1][0]


async def test_dropped_events_never_arrive(
    admin: httpx.AsyncClient, receiver: NcsReceiver, world: Sandbox, app: Starlette
) -> None:
    await admin.post("/_sandbox/faults", json={"ncs_drop_rate": 1.0})
    await _join(admin)
    await app.state.ncs_dispatcher.wait_idle()
    assert receiver.received == []
    assert all(event.dropped for event in world.ncs_events)


async def test_duplicated_events_arrive_twice_with_one_notice_id(
    admin: httpx.AsyncClient, receiver: NcsReceiver
) -> None:
    await admin.post("/_sandbox/faults", json={"ncs_duplicate_rate": 1.0, "count": 1})
    await _join(admin)
    await eventually(lambda: len(receiver.received) == 3)
    assert [b["eventType"] for b in _bodies(receiver)] == [101, 101, 107]
    assert _bodies(receiver)[0]["noticeId"] == _bodies(receiver)[1]["noticeId"]


async def test_reordered_event_is_overtaken_by_the_next(
    admin: httpx.AsyncClient, receiver: NcsReceiver
) -> None:
    await admin.post("/_sandbox/faults", json={"ncs_reorder": True, "count": 1})
    await _join(admin)
    await eventually(lambda: len(receiver.received) == 2)
    assert [b["eventType"] for b in _bodies(receiver)] == [107, 101]


async def test_idle_exit_is_notified_without_any_request(
    agora: Agora, receiver: NcsReceiver, clock: ManualClock
) -> None:
    await agora.begin("mix")
    clock.advance(32)
    await eventually(lambda: 11 in [b["eventType"] for b in _bodies(receiver)])
    kinds = [b["eventType"] for b in _bodies(receiver) if b["productId"] == 3]
    assert kinds == [30, 40, 41, 11]
