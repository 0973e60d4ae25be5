"""Simulated channels: admin joins/leaves emit productId-1 events; the user-list endpoint."""

from __future__ import annotations

import httpx

from sandbox.config import SandboxConfig
from sandbox.world import Sandbox
from tests.support.sandbox import Agora, mix_request


async def _admin(
    client: httpx.AsyncClient, channel: str, op: str, **body: object
) -> httpx.Response:
    return await client.post(f"/_sandbox/channels/{channel}/{op}", json=body)


def _rtc(world: Sandbox) -> list[tuple[int, dict[str, object]]]:
    return [(e.event_type, e.payload) for e in world.ncs_events if e.product_id == 1]


async def test_first_join_creates_the_channel_then_joins_the_user(
    client: httpx.AsyncClient, world: Sandbox
) -> None:
    await _admin(client, "room1", "join", uid=42, platform=1)
    events = _rtc(world)
    assert [kind for kind, _ in events] == [101, 107]
    assert events[1][1]["uid"] == 42
    assert events[1][1]["platform"] == 1
    assert events[1][1]["channelName"] == "room1"


async def test_last_leave_destroys_the_channel(client: httpx.AsyncClient, world: Sandbox) -> None:
    await _admin(client, "room1", "join", uid=42)
    await _admin(client, "room1", "leave", uid=42, reason=2)
    kinds = [kind for kind, _ in _rtc(world)]
    leave, destroy = _rtc(world)[2][1], _rtc(world)[3][1]
    assert kinds == [101, 107, 108, 102]
    assert (leave["reason"], destroy["lastUid"]) == (2, 42)


async def test_client_seq_grows_with_every_user_event(
    client: httpx.AsyncClient, world: Sandbox
) -> None:
    for uid in (1, 2):
        await _admin(client, "room1", "join", uid=uid)
    await _admin(client, "room1", "leave", uid=1)
    seqs = [int(str(payload["clientSeq"])) for kind, payload in _rtc(world) if kind in (107, 108)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


async def test_live_channel_emits_host_and_audience_events(
    client: httpx.AsyncClient, world: Sandbox
) -> None:
    await _admin(client, "show", "join", uid=1, role="host", profile="live")
    await _admin(client, "show", "join", uid=2, role="audience", profile="live")
    await _admin(client, "show", "role", uid=2, role="host")
    await _admin(client, "show", "role", uid=1, role="audience")
    await _admin(client, "show", "leave", uid=2)
    await _admin(client, "show", "leave", uid=1)
    assert [kind for kind, _ in _rtc(world)] == [101, 103, 105, 111, 112, 104, 106, 102]


async def test_joining_twice_is_refused(client: httpx.AsyncClient) -> None:
    await _admin(client, "room1", "join", uid=42)
    response = await _admin(client, "room1", "join", uid=42)
    assert response.status_code == 409
    assert "already" in response.json()["error"]


async def test_join_with_another_profile_than_the_channel_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await _admin(client, "room1", "join", uid=1)
    response = await _admin(client, "room1", "join", uid=2, profile="live")
    assert response.status_code == 409


async def test_admin_join_validates_its_body(client: httpx.AsyncClient) -> None:
    response = await _admin(client, "room1", "join", uid=0)
    assert response.status_code == 400
    assert "uid" in response.json()["error"]


async def test_leaving_a_channel_one_is_not_in_answers_404(client: httpx.AsyncClient) -> None:
    response = await _admin(client, "room1", "leave", uid=42)
    assert response.status_code == 404


async def test_user_list_of_a_communication_channel_lists_users(
    agora: Agora, config: SandboxConfig
) -> None:
    await _admin(agora.client, "room1", "join", uid=42)
    response = await agora.client.get(f"/dev/v1/channel/user/{config.app_id}/room1")
    assert response.json() == {
        "success": True,
        "data": {"channel_exist": True, "mode": 1, "total": 1, "users": [42]},
    }


async def test_user_list_of_a_live_channel_splits_hosts_and_audience(
    agora: Agora, config: SandboxConfig
) -> None:
    await _admin(agora.client, "show", "join", uid=1, role="host", profile="live")
    await _admin(agora.client, "show", "join", uid=2, role="audience", profile="live")
    response = await agora.client.get(f"/dev/v1/channel/user/{config.app_id}/show")
    assert response.json()["data"] == {
        "channel_exist": True,
        "mode": 2,
        "broadcasters": [1],
        "audience": [2],
        "audience_total": 1,
    }


async def test_user_list_hosts_only_leaves_out_the_audience(
    agora: Agora, config: SandboxConfig
) -> None:
    await _admin(agora.client, "show", "join", uid=1, role="host", profile="live")
    await _admin(agora.client, "show", "join", uid=2, role="audience", profile="live")
    url = f"/dev/v1/channel/user/{config.app_id}/show?hosts_only=1"
    assert (await agora.client.get(url)).json()["data"] == {
        "channel_exist": True,
        "mode": 2,
        "broadcasters": [1],
    }


async def test_user_list_of_an_empty_channel_says_it_does_not_exist(
    agora: Agora, config: SandboxConfig
) -> None:
    response = await agora.client.get(f"/dev/v1/channel/user/{config.app_id}/nobody")
    assert response.json() == {"success": True, "data": {"channel_exist": False}}


async def test_recorder_joins_as_linux_cloud_recording_client(agora: Agora, world: Sandbox) -> None:
    await _admin(agora.client, "room1", "join", uid=42)
    rec = await agora.begin("mix")
    joins = [p for kind, p in _rtc(world) if kind == 107 and p["uid"] == int(rec.uid)]
    assert len(joins) == 1
    assert (joins[0]["platform"], joins[0]["clientType"]) == (6, 10)


async def test_recorder_is_in_the_user_list(agora: Agora, config: SandboxConfig) -> None:
    await _admin(agora.client, "room1", "join", uid=42)
    rec = await agora.begin("mix")
    response = await agora.client.get(f"/dev/v1/channel/user/{config.app_id}/room1")
    assert response.json()["data"]["users"] == [42, int(rec.uid)]


async def test_recorder_in_a_live_channel_joins_as_audience(agora: Agora, world: Sandbox) -> None:
    await _admin(agora.client, "show", "join", uid=1, role="host", profile="live")
    await agora.begin("mix", mix_request(recordingConfig={"channelType": 1}), cname="show")
    assert [kind for kind, _ in _rtc(world)] == [101, 103, 105]


async def test_recorder_leaves_the_channel_when_stopped(agora: Agora, world: Sandbox) -> None:
    await _admin(agora.client, "room1", "join", uid=42)
    rec = await agora.begin("mix")
    await agora.stop(rec)
    leaves = [p["uid"] for kind, p in _rtc(world) if kind == 108]
    assert leaves == [int(rec.uid)]
    assert world.channels.get("room1") is not None


async def test_user_taking_the_recorders_uid_kicks_the_recorder_out(
    agora: Agora, world: Sandbox
) -> None:
    rec = await agora.begin("mix")
    await _admin(agora.client, "room1", "join", uid=int(rec.uid))
    assert (await agora.query(rec)).status_code == 404
    assert world.tasks[rec.sid].exit_reason == "uid_conflict"


async def test_start_with_a_uid_already_in_the_channel_dies(agora: Agora) -> None:
    await _admin(agora.client, "room1", "join", uid=4200000001)
    rec = await agora.begin("mix", uid="4200000001")
    assert (await agora.query(rec)).status_code == 404


async def test_admin_cannot_remove_a_recorder_as_a_user(agora: Agora) -> None:
    rec = await agora.begin("mix")
    response = await _admin(agora.client, "room1", "leave", uid=int(rec.uid))
    assert response.status_code == 409
