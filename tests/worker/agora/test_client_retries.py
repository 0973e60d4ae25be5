"""Transient failures are retried with growing, bounded pauses; permanent ones are not."""

from __future__ import annotations

import httpx
import pytest

from tests.support.agora import builders
from tests.support.agora.harness import (
    RECORDER,
    ROOM,
    Harness,
    fast_retry,
    sandbox_config_with,
    start_recording,
)
from worker.agora import AgoraClient, AgoraInvalidRequest, AgoraRetryableError, StopOutcome
from worker.agora.models import RecordingMode

MIX = RecordingMode.MIX


async def test_server_errors_are_retried_until_agora_answers(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="acquire", status=503, count=2)
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert acquired.resource_id
    assert [c["status"] for c in await harness.calls("acquire")] == [503, 503, 200]


async def test_request_not_completed_on_query_is_retried(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    await harness.fault(endpoint="query", status=206, code=65, count=1)
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    assert query.sid == started.sid
    assert [c["status"] for c in await harness.calls("query")] == [206, 200]


async def test_a_gateway_timeout_on_stop_is_retried(harness: Harness, agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    await harness.fault(endpoint="stop", status=504, code=62, count=1)
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert result.outcome is StopOutcome.NO_RECORDED_DATA
    assert [c["status"] for c in await harness.calls("stop")] == [504, 206]


async def test_a_rate_limited_request_is_retried(harness: Harness, agora: AgoraClient) -> None:
    await harness.fault(endpoint="user_list", status=429, count=2)
    users = await agora.channel_users(ROOM)
    assert users.channel_exist is False
    assert [c["status"] for c in await harness.calls("user_list")] == [429, 429, 200]


@pytest.mark.parametrize("sandbox_config", [sandbox_config_with(qps_limit=1)])
async def test_a_sandbox_over_its_qps_limit_is_absorbed_by_retries(harness: Harness) -> None:
    async def sleep_on_the_sandbox_clock(seconds: float) -> None:
        harness.clock.advance(seconds)

    agora = harness.make_client(retry=fast_retry(harness.pauses, sleep=sleep_on_the_sandbox_clock))
    for _ in range(3):
        await agora.channel_users(ROOM)
    statuses = [c["status"] for c in await harness.calls("user_list")]
    assert (statuses.count(200), 429 in statuses) == (3, True)


async def test_a_client_error_is_not_retried(harness: Harness, agora: AgoraClient) -> None:
    await harness.fault(endpoint="acquire", status=400, code=2, count=1)
    with pytest.raises(AgoraInvalidRequest):
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert (len(await harness.calls("acquire")), harness.pauses.taken_s) == (1, [])


async def test_pauses_between_attempts_grow_exponentially_within_their_jitter(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="acquire", status=503, count=3)
    await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    first, second, third = harness.pauses.taken_s
    assert (0.25 <= first <= 0.5, 0.5 <= second <= 1.0, 1.0 <= third <= 2.0) == (True, True, True)


async def test_attempts_are_bounded_by_max_attempts(harness: Harness) -> None:
    agora = harness.make_client(retry=fast_retry(harness.pauses, max_attempts=2))
    await harness.fault(endpoint="acquire", status=500, code=500)
    with pytest.raises(AgoraRetryableError) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert caught.value.attempts == 2
    assert len(await harness.calls("acquire")) == 2


async def test_no_pause_is_started_past_the_total_deadline(harness: Harness) -> None:
    agora = harness.make_client(
        retry=fast_retry(harness.pauses, max_attempts=10, total_timeout_s=0.7)
    )
    await harness.fault(endpoint="acquire", status=503)
    with pytest.raises(AgoraRetryableError) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert caught.value.attempts == 2
    assert (len(harness.pauses.taken_s), sum(harness.pauses.taken_s) < 0.7) == (1, True)


async def test_a_rate_limit_waits_at_least_as_long_as_retry_after_says(
    harness: Harness, agora: AgoraClient
) -> None:
    harness.gateway.retry_after_s = 3
    await harness.fault(endpoint="user_list", status=429, count=1)
    await agora.channel_users(ROOM)
    assert harness.pauses.taken_s == [3.0]


async def test_a_wait_for_the_rate_limiter_counts_against_the_total_deadline(
    harness: Harness,
) -> None:
    timeouts: list[float] = []

    async def record_timeout(request: httpx.Request) -> None:
        timeouts.append(request.extensions["timeout"]["read"])

    async def slow_limiter() -> None:
        harness.pauses.now_s += 58.0  # waited that long for a request token

    harness.http.event_hooks = {"request": [record_timeout], "response": []}
    agora = harness.make_client(
        retry=fast_retry(harness.pauses, total_timeout_s=60.0), rate_limiter=slow_limiter
    )
    await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert timeouts == [pytest.approx(2.0)]
