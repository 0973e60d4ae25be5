"""Resource IDs: valid five minutes, one recording each; repeated and conflicting starts."""

from __future__ import annotations

from sandbox.config import ManualClock
from tests.support.sandbox import Agora, mix_request


async def test_resource_expires_after_five_minutes(agora: Agora, clock: ManualClock) -> None:
    acquired = await agora.acquire()
    clock.advance(300)
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    assert (response.status_code, response.json()["code"]) == (400, 433)


async def test_resource_is_usable_just_before_it_expires(agora: Agora, clock: ManualClock) -> None:
    acquired = await agora.acquire()
    clock.advance(299)
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    assert response.status_code == 200


async def test_repeated_start_on_a_running_resource_answers_201_code_7(agora: Agora) -> None:
    rec = await agora.begin("mix")
    response = await agora.start(rec.resource_id, "mix", mix_request())
    assert (response.status_code, response.json()) == (
        201,
        {"code": 7, "reason": "already started"},
    )


async def test_repeated_start_does_not_start_a_second_recording(agora: Agora) -> None:
    rec = await agora.begin("mix")
    await agora.start(rec.resource_id, "mix", mix_request())
    stats = (await agora.client.get("/_sandbox/stats")).json()
    assert (stats["active"], stats["started_total"]) == (1, 1)


async def test_resource_cannot_start_a_second_recording_after_stop(
    agora: Agora, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    await agora.stop(rec)
    clock.advance(10)
    response = await agora.start(rec.resource_id, "mix", mix_request())
    assert (response.status_code, response.json()["code"]) == (400, 433)


async def test_start_for_a_uid_that_already_records_answers_400_code_53(agora: Agora) -> None:
    await agora.begin("mix")
    acquired = await agora.acquire()
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    assert (response.status_code, response.json()) == (400, {"code": 53, "reason": "task conflict"})


async def test_same_channel_may_record_twice_under_different_uids(agora: Agora) -> None:
    await agora.begin("mix", uid="4200000001")
    await agora.begin("mix", uid="4200000002")
    stats = (await agora.client.get("/_sandbox/stats")).json()
    assert stats["active"] == 2


async def test_start_with_another_cname_than_acquired_answers_432(agora: Agora) -> None:
    acquired = await agora.acquire(cname="room1")
    response = await agora.start(acquired.json()["resourceId"], "mix", mix_request(), "room2")
    assert (response.status_code, response.json()["code"]) == (400, 432)


async def test_start_with_an_unknown_resource_answers_1001(agora: Agora) -> None:
    response = await agora.start("not-a-resource", "mix", mix_request())
    assert (response.status_code, response.json()["code"]) == (400, 1001)
