"""Over real sockets: every endpoint once, base-URL failover past a dead URL, and timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import IPv4Address

import httpx
import pytest
from pydantic import SecretStr

from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.agora import builders
from tests.support.agora.harness import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    RECORDER,
    ROOM,
    Pauses,
    dead_url,
    fast_retry,
)
from worker.agora import (
    AgoraClient,
    AgoraStartUncertain,
    AgoraTransportError,
    RetryPolicy,
    StopOutcome,
)
from worker.agora.models import (
    LayoutRegion,
    MixedVideoLayout,
    RecordingMode,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)

MIX = RecordingMode.MIX


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    config = SandboxConfig(app_id=APP_ID, customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET)
    async with running_sandbox(config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class Attempts:
    """A rate-limit hook that counts HTTP attempts."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


def client(
    http: httpx.AsyncClient,
    base_urls: list[str],
    *,
    retry: RetryPolicy | None = None,
    attempts: Attempts | None = None,
    timeout_s: float = 5.0,
) -> AgoraClient:
    return AgoraClient(
        http,
        app_id=APP_ID,
        customer_id=CUSTOMER_ID,
        customer_secret=SecretStr(CUSTOMER_SECRET),
        base_urls=base_urls,
        retry=retry if retry is not None else fast_retry(Pauses()),
        rate_limiter=attempts if attempts is not None else Attempts(),
        timeout_s=timeout_s,
    )


async def add_fault(http: httpx.AsyncClient, sandbox: RunningSandbox, **rule: object) -> None:
    (await http.post(f"{sandbox.url}/_sandbox/faults", json=rule)).raise_for_status()


async def test_every_endpoint_works_over_a_real_port(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    agora = client(http, [sandbox.url])
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    started = await agora.start(
        resource_id=acquired.resource_id,
        cname=ROOM,
        uid=RECORDER,
        mode=MIX,
        client_request=builders.mix_start(),
    )
    sid = started.sid or ""
    keys = {"resource_id": acquired.resource_id, "sid": sid, "cname": ROOM, "uid": RECORDER}
    query = await agora.query(resource_id=acquired.resource_id, sid=sid, mode=MIX)
    await agora.update(
        **keys, mode=MIX, client_request=UpdateClientRequest(storage_config=builders.storage())
    )
    await agora.update_layout(
        **keys,
        client_request=UpdateLayoutClientRequest(
            mixed_video_layout=MixedVideoLayout.CUSTOM,
            layout_config=[LayoutRegion(x_axis=0, y_axis=0, width=1, height=1)],
        ),
    )
    users = await agora.channel_users(ROOM)
    addresses = await agora.ncs_ips()
    stopped = await agora.stop(**keys, mode=MIX)
    assert query.sid == sid
    assert users.channel_exist is True  # the recorder itself has joined
    assert addresses == [IPv4Address("127.0.0.1")]
    assert stopped.outcome is StopOutcome.NO_RECORDED_DATA


async def test_a_dead_first_url_fails_over_to_the_second(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    pauses = Pauses()
    agora = client(http, [dead_url(), sandbox.url], retry=fast_retry(pauses))
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert acquired.resource_id
    assert len(pauses.taken_s) == 1
    assert agora.preferred_base_url == sandbox.url


async def test_the_url_that_answered_is_tried_first_next_time(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    attempts = Attempts()
    agora = client(http, [dead_url(), sandbox.url], attempts=attempts)
    await agora.ncs_ips()
    before = attempts.count
    await agora.ncs_ips()
    assert (before, attempts.count - before) == (2, 1)


async def test_a_fresh_start_fails_over_when_the_connection_was_refused(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    acquired = await client(http, [sandbox.url]).acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    agora = client(http, [dead_url(), sandbox.url])
    started = await agora.start(
        resource_id=acquired.resource_id,
        cname=ROOM,
        uid=RECORDER,
        mode=MIX,
        client_request=builders.mix_start(),
    )
    assert (started.already_started, started.sid in sandbox.world.tasks) == (False, True)


async def test_no_reachable_url_is_a_transport_error_that_never_reached_agora(
    http: httpx.AsyncClient,
) -> None:
    agora = client(http, [dead_url(), dead_url()])
    with pytest.raises(AgoraTransportError) as caught:
        await agora.channel_users(ROOM)
    assert (caught.value.attempts, caught.value.delivered) == (4, False)
    assert "ConnectError" in str(caught.value)


async def test_a_read_timeout_is_retried_on_the_next_url(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    await add_fault(http, sandbox, endpoint="user_list", latency_ms=600, count=1)
    agora = client(
        http, [sandbox.url, sandbox.url.replace("127.0.0.1", "localhost")], timeout_s=0.2
    )
    users = await agora.channel_users(ROOM)
    assert users.channel_exist is False
    assert agora.preferred_base_url.startswith("http://localhost")


async def test_a_timed_out_fresh_start_is_uncertain_and_a_same_resource_retry_adopts_it(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    agora = client(http, [sandbox.url], timeout_s=0.2)
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    await add_fault(http, sandbox, endpoint="start", latency_ms=600, count=1)
    arguments = {
        "resource_id": acquired.resource_id,
        "cname": ROOM,
        "uid": RECORDER,
        "mode": MIX,
        "client_request": builders.mix_start(),
    }
    with pytest.raises(AgoraStartUncertain) as caught:
        await agora.start(**arguments)  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, AgoraTransportError)
    again = await agora.start(**arguments, retry_same_resource=True)  # type: ignore[arg-type]
    assert again.already_started is True
    assert len(sandbox.world.tasks) == 1


async def test_a_call_counts_as_delivered_if_any_attempt_may_have_reached_agora(
    sandbox: RunningSandbox, http: httpx.AsyncClient
) -> None:
    await add_fault(http, sandbox, endpoint="user_list", latency_ms=600, count=1)
    retry = fast_retry(Pauses(), max_attempts=2)
    agora = client(http, [sandbox.url, dead_url()], retry=retry, timeout_s=0.2)
    with pytest.raises(AgoraTransportError) as caught:
        await agora.channel_users(ROOM)
    assert "ConnectError" in str(caught.value)
    assert caught.value.delivered is True
