"""A start is never repeated blindly on a fresh resource; a deliberate retry on the same
resource reads 201/code 7 as "already started"."""

from __future__ import annotations

import pytest

from sandbox.models import Phase
from tests.support.agora import builders
from tests.support.agora.harness import RECORDER, ROOM, Harness
from worker.agora import AgoraClient, AgoraConflict, AgoraStartUncertain, StartResult
from worker.agora.models import RecordingMode

MIX = RecordingMode.MIX


async def acquire(agora: AgoraClient) -> str:
    return (await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)).resource_id


async def start(
    agora: AgoraClient, resource_id: str, *, retry_same_resource: bool = False
) -> StartResult:
    return await agora.start(
        resource_id=resource_id,
        cname=ROOM,
        uid=RECORDER,
        mode=MIX,
        client_request=builders.mix_start(),
        retry_same_resource=retry_same_resource,
    )


def running(harness: Harness) -> list[str]:
    return [sid for sid, task in harness.world.tasks.items() if task.phase is Phase.RUNNING]


async def test_a_lost_answer_to_a_fresh_start_is_uncertain_and_not_repeated(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=504, code=62, after=True, count=1)
    with pytest.raises(AgoraStartUncertain) as caught:
        await start(agora, resource_id)
    assert (caught.value.resource_id, caught.value.status, caught.value.code) == (
        resource_id,
        504,
        62,
    )
    assert len(await harness.calls("start")) == 1
    assert len(running(harness)) == 1


async def test_retrying_on_the_same_resource_finds_the_task_already_started(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=504, code=62, after=True, count=1)
    with pytest.raises(AgoraStartUncertain):
        await start(agora, resource_id)
    result = await start(agora, resource_id, retry_same_resource=True)
    assert (result.already_started, result.resource_id) == (True, resource_id)
    assert [c["status"] for c in await harness.calls("start")] == [504, 201]
    assert len(running(harness)) == 1


async def test_an_already_started_answer_without_a_sid_leaves_the_sid_unknown(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await start(agora, resource_id)
    result = await start(agora, resource_id, retry_same_resource=True)
    # The sandbox, like Agora's documented 201 body, names no sid; NCS event 40 will.
    assert (result.already_started, result.sid) == (True, None)


async def test_a_server_error_on_a_fresh_start_is_uncertain_and_not_repeated(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=503, count=1)
    with pytest.raises(AgoraStartUncertain) as caught:
        await start(agora, resource_id)
    assert caught.value.status == 503
    assert len(await harness.calls("start")) == 1


async def test_request_not_completed_on_a_fresh_start_is_uncertain(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=206, code=65, count=1)
    with pytest.raises(AgoraStartUncertain) as caught:
        await start(agora, resource_id)
    assert (caught.value.status, caught.value.code) == (206, 65)


async def test_a_same_resource_retry_after_a_start_that_never_ran_starts_it_now(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=503, count=1)
    with pytest.raises(AgoraStartUncertain):
        await start(agora, resource_id)
    result = await start(agora, resource_id, retry_same_resource=True)
    assert (result.already_started, result.sid in running(harness)) == (False, True)


async def test_a_same_resource_retry_repeats_through_transient_errors(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=503, count=2)
    result = await start(agora, resource_id, retry_same_resource=True)
    assert result.sid in running(harness)
    assert [c["status"] for c in await harness.calls("start")] == [503, 503, 200]


async def test_a_rate_limited_fresh_start_is_retried_because_agora_never_saw_it(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=429, count=1)
    result = await start(agora, resource_id)
    assert result.sid in running(harness)
    assert [c["status"] for c in await harness.calls("start")] == [429, 200]


async def test_a_conflict_is_a_definite_refusal_not_an_uncertain_start(
    harness: Harness, agora: AgoraClient
) -> None:
    await start(agora, await acquire(agora))
    with pytest.raises(AgoraConflict):
        await start(agora, await acquire(agora))
    assert len(running(harness)) == 1


async def test_the_uncertain_error_tells_the_caller_what_to_do(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=500, code=62, count=1)
    with pytest.raises(AgoraStartUncertain, match="retry_same_resource=True") as caught:
        await start(agora, resource_id)
    assert caught.value.request_id == harness.gateway.last_id


async def test_a_same_resource_retry_that_runs_out_stays_uncertain(
    harness: Harness, agora: AgoraClient
) -> None:
    resource_id = await acquire(agora)
    await harness.fault(endpoint="start", status=503)
    with pytest.raises(AgoraStartUncertain) as caught:
        await start(agora, resource_id, retry_same_resource=True)
    assert (caught.value.status, len(await harness.calls("start"))) == (503, 4)
