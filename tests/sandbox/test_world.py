"""The world used directly (no HTTP), time scaling, and the admin views and reset."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox import endpoints
from sandbox.config import ManualClock, SandboxConfig
from sandbox.models import AgoraError, Mode
from sandbox.world import Sandbox
from tests.support.sandbox import RECORDER_UID, Agora, mix_request


def _start(world: Sandbox, max_idle_s: int = 30) -> tuple[str, str]:
    ident = {"cname": "room1", "uid": RECORDER_UID}
    resource_id = endpoints.acquire(world, {**ident, "clientRequest": {}})["resourceId"]
    request = mix_request(recordingConfig={"channelType": 0, "maxIdleTime": max_idle_s})
    started = endpoints.start(world, resource_id, Mode.MIX, {**ident, "clientRequest": request})
    return resource_id, started["sid"]


def test_time_scale_shortens_max_idle_time(
    make_config: Callable[..., SandboxConfig], clock: ManualClock
) -> None:
    world = Sandbox(make_config(time_scale=0.01, exit_s=0))
    resource_id, sid = _start(world, max_idle_s=100)
    clock.advance(0.99)
    endpoints.query(world, resource_id, sid, Mode.MIX)
    clock.advance(0.01)
    world.tick()
    with pytest.raises(AgoraError) as gone:
        endpoints.query(world, resource_id, sid, Mode.MIX)
    assert (gone.value.status, gone.value.code) == (404, 404)


def test_time_scale_shortens_the_resource_ttl(
    make_config: Callable[..., SandboxConfig], clock: ManualClock
) -> None:
    world = Sandbox(make_config(time_scale=0.1))
    ident = {"cname": "room1", "uid": RECORDER_UID}
    resource_id = endpoints.acquire(world, {**ident, "clientRequest": {}})["resourceId"]
    clock.advance(30)
    with pytest.raises(AgoraError) as expired:
        endpoints.start(world, resource_id, Mode.MIX, {**ident, "clientRequest": mix_request()})
    assert expired.value.code == 433


def test_world_counts_a_started_task_as_active(config: SandboxConfig) -> None:
    world = Sandbox(config)
    _start(world)
    assert (world.active, world.stats.started_total, world.stats.peak_active) == (1, 1, 1)


async def test_reset_forgets_everything(agora: Agora, world: Sandbox) -> None:
    await agora.client.post("/_sandbox/channels/room1/join", json={"uid": 42})
    await agora.begin("mix")
    await agora.client.post("/_sandbox/faults", json={"status": 503})
    await agora.client.post("/_sandbox/reset")
    assert (world.tasks, world.calls, world.ncs_events, world.channels.channels) == ({}, [], [], {})
    assert (await agora.acquire()).status_code == 200
    assert world.stats_view()["started_total"] == 0


async def test_admin_lists_channels_with_their_members(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/channels/room1/join", json={"uid": 42, "platform": 1})
    listed = (await client.get("/_sandbox/channels")).json()
    assert listed == [
        {
            "channel": "room1",
            "profile": "communication",
            "members": [{"uid": 42, "role": "host", "platform": 1, "recorder": False, "sid": None}],
        }
    ]


async def test_admin_lists_emitted_ncs_events(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/channels/room1/join", json={"uid": 42})
    events = (await client.get("/_sandbox/ncs")).json()
    assert [(e["productId"], e["eventType"], e["delivered"]) for e in events] == [
        (1, 101, 0),
        (1, 107, 0),
    ]


async def test_admin_calls_on_unknown_recordings_answer_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/recordings/nope/kill")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_config_refuses_a_malformed_certificate() -> None:
    with pytest.raises(ValueError, match="app_certificate"):
        SandboxConfig(app_certificate="not-hex")


def test_config_refuses_an_ncs_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="ncs_url"):
        SandboxConfig(ncs_url="receiver:8000/ncs")


def test_config_repr_hides_secrets() -> None:
    config = SandboxConfig(
        customer_secret="cust-secret", app_certificate="a" * 32, ncs_secret="ncs-secret"
    )
    shown = repr(config)
    assert "cust-secret" not in shown
    assert "a" * 32 not in shown
    assert "ncs-secret" not in shown
