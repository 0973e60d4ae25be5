"""Each class of Agora failure surfaces as its own typed error, carrying its context."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.support.agora import builders
from tests.support.agora.harness import (
    RECORDER,
    ROOM,
    Harness,
    sandbox_config_with,
    start_recording,
)
from worker.agora import (
    AgoraAlreadyStopped,
    AgoraAuthError,
    AgoraClient,
    AgoraConflict,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraNotFound,
    AgoraRateLimited,
    AgoraRetryableError,
    Endpoint,
    ErrorClass,
)
from worker.agora.models import RecordingMode, UpdateClientRequest, WebRecordingUpdate

MIX = RecordingMode.MIX


async def test_a_wrong_customer_secret_is_an_auth_error(harness: Harness) -> None:
    agora = harness.make_client(customer_secret=SecretStr("not-the-secret"))
    with pytest.raises(AgoraAuthError) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert (caught.value.status, caught.value.reason, caught.value.attempts) == (
        401,
        "Invalid authentication credentials",
        1,
    )


async def test_an_app_id_without_cloud_recording_is_an_auth_error(harness: Harness) -> None:
    agora = harness.make_client(app_id="0" * 32)
    with pytest.raises(AgoraAuthError, match="appid is invalid"):
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)


async def test_the_user_list_reports_an_unknown_app_id_as_an_auth_error(harness: Harness) -> None:
    agora = harness.make_client(app_id="0" * 32)
    with pytest.raises(AgoraAuthError, match="invalid appid"):
        await agora.channel_users(ROOM)


async def test_agora_refusing_a_parameter_is_an_invalid_request(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="acquire", status=400, code=2, reason="invalid parameter", count=1)
    with pytest.raises(AgoraInvalidRequest) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert (caught.value.code, caught.value.error_class) == (2, ErrorClass.INVALID)


async def test_a_start_whose_uid_differs_from_the_resource_is_an_invalid_request(
    agora: AgoraClient,
) -> None:
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    with pytest.raises(AgoraInvalidRequest) as caught:
        await agora.start(
            resource_id=acquired.resource_id,
            cname=ROOM,
            uid=RECORDER + 1,
            mode=MIX,
            client_request=builders.mix_start(),
        )
    assert caught.value.code == 432


@pytest.mark.parametrize("sandbox_config", [sandbox_config_with(max_concurrent=1)])
async def test_a_full_quota_at_acquire_is_no_capacity(agora: AgoraClient) -> None:
    await start_recording(agora, MIX, builders.mix_start())
    with pytest.raises(AgoraNoCapacity) as caught:
        await agora.acquire(cname="room-2", uid=RECORDER, mode=MIX)
    assert (caught.value.status, caught.value.code, caught.value.reason) == (
        400,
        406,
        "vendor_over_load",
    )


async def test_a_start_without_a_worker_is_no_capacity(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="start", status=500, code=502, count=1)
    with pytest.raises(AgoraNoCapacity) as caught:
        await start_recording(agora, MIX, builders.mix_start())
    assert len(await harness.calls("start")) == caught.value.attempts == 1


async def test_a_second_task_for_the_same_cname_and_uid_is_a_conflict(
    harness: Harness, agora: AgoraClient
) -> None:
    await start_recording(agora, MIX, builders.mix_start())
    with pytest.raises(AgoraConflict) as caught:
        await start_recording(agora, MIX, builders.mix_start())
    assert (caught.value.status, caught.value.code, caught.value.endpoint) == (
        400,
        53,
        Endpoint.START,
    )


async def test_querying_a_task_that_died_is_not_found(harness: Harness, agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    await harness.admin("POST", f"/recordings/{started.sid}/kill")
    with pytest.raises(AgoraNotFound) as caught:
        await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (404, 404, 1)


async def test_updating_a_task_in_a_failover_window_is_not_found(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    await harness.admin("POST", f"/recordings/{started.sid}/failover", {"not_found_s": 30})
    with pytest.raises(AgoraNotFound):
        await agora.update(
            resource_id=started.resource_id,
            sid=started.sid or "",
            cname=ROOM,
            uid=RECORDER,
            mode=MIX,
            client_request=UpdateClientRequest(storage_config=builders.storage()),
        )


async def test_updating_an_exiting_task_is_already_stopped(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, RecordingMode.WEB, builders.web_start(), cname="web-1")
    await harness.fault(endpoint="update", status=400, code=49, count=1)
    with pytest.raises(AgoraAlreadyStopped):
        await agora.update(
            resource_id=started.resource_id,
            sid=started.sid or "",
            cname="web-1",
            uid=RECORDER,
            mode=RecordingMode.WEB,
            client_request=UpdateClientRequest(
                web_recording_config=WebRecordingUpdate(onhold=True)
            ),
        )


async def test_a_persistent_server_error_ends_as_retryable_after_every_attempt(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="acquire", status=503)
    with pytest.raises(AgoraRetryableError) as caught:
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert (caught.value.status, caught.value.attempts) == (503, 4)
    assert len(await harness.calls("acquire")) == 4


async def test_a_persistent_rate_limit_ends_as_rate_limited(
    harness: Harness, agora: AgoraClient
) -> None:
    await harness.fault(endpoint="*", status=429)
    with pytest.raises(AgoraRateLimited) as caught:
        await agora.channel_users(ROOM)
    assert (caught.value.status, caught.value.error_class) == (429, ErrorClass.RATE_LIMITED)


async def test_an_unknown_route_is_an_invalid_request(harness: Harness) -> None:
    agora = harness.make_client(base_urls=["http://sandbox.test/not-agora"])
    with pytest.raises(AgoraInvalidRequest, match="no Route matched"):
        await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)


async def test_no_recorded_data_still_reports_the_identity_agora_sent_with_it(
    agora: AgoraClient,
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert result.response is not None
    assert (result.response.resource_id, result.response.sid) == (started.resource_id, started.sid)
