"""productId-3 recording events for the sandbox's tasks, and the admin kill/failover/backup."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.config import ManualClock
from sandbox.world import Sandbox
from tests.support.sandbox import Agora, Recording, mix_request
from tests.support.waiting import eventually


def _recording_events(world: Sandbox, sid: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (e.event_type, e.payload)
        for e in world.ncs_events
        if e.product_id == 3 and e.payload["sid"] == sid
    ]


def _kinds(world: Sandbox, rec: Recording) -> list[int]:
    return [kind for kind, _ in _recording_events(world, rec.sid)]


async def _join(client: httpx.AsyncClient, uid: int = 42) -> None:
    await client.post("/_sandbox/channels/room1/join", json={"uid": uid})


async def test_start_emits_uploader_and_recorder_started(agora: Agora, world: Sandbox) -> None:
    rec = await agora.begin("mix")
    events = _recording_events(world, rec.sid)
    assert [kind for kind, _ in events] == [30, 40]
    payload = events[1][1]
    assert (payload["cname"], payload["uid"], payload["serviceType"]) == ("room1", rec.uid, 1)
    assert payload["details"] == {"msgName": "recorder_started", "status": 0}


async def test_idle_exit_emits_leave_code_4_then_uploaded_then_session_exit(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    await _join(agora.client)
    rec = await agora.begin("mix")
    await agora.client.post("/_sandbox/channels/room1/leave", json={"uid": 42})
    clock.advance(32)
    world.tick()
    events = _recording_events(world, rec.sid)
    assert [kind for kind, _ in events] == [30, 40, 41, 31, 11]
    assert events[2][1]["details"]["leaveCode"] == 4
    assert events[3][1]["details"]["fileList"][0]["fileName"] == f"{rec.sid}_room1.m3u8"
    assert events[4][1]["details"] == {"msgName": "session_exit", "exitStatus": 0}


async def test_idle_exit_with_nothing_recorded_sends_no_uploaded_event(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    clock.advance(32)
    world.tick()
    assert _kinds(world, rec) == [30, 40, 41, 11]


async def test_uploaded_and_session_exit_wait_for_the_exit_phase(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    await _join(agora.client)
    rec = await agora.begin("mix")
    await agora.stop(rec)
    assert _kinds(world, rec) == [30, 40, 41]
    clock.advance(2)
    world.tick()
    assert _kinds(world, rec) == [30, 40, 41, 31, 11]


async def test_sequence_numbers_count_up_from_zero_per_task(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    clock.advance(32)
    world.tick()
    assert [p["sequence"] for _, p in _recording_events(world, rec.sid)] == [0, 1, 2, 3]


async def test_timers_fire_without_any_request(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    clock.advance(32)
    await eventually(lambda: 11 in _kinds(world, rec))


async def test_killed_task_dies_with_exit_status_1(agora: Agora, world: Sandbox) -> None:
    rec = await agora.begin("mix")
    assert (await agora.client.post(f"/_sandbox/recordings/{rec.sid}/kill")).status_code == 200
    events = _recording_events(world, rec.sid)
    assert [kind for kind, _ in events][-2:] == [41, 11]
    assert events[-1][1]["details"]["exitStatus"] == 1
    assert (await agora.query(rec)).status_code == 404
    assert (await agora.stop(rec)).status_code == 404


async def test_failover_announces_a_new_uid_and_rejoins_under_it(
    agora: Agora, world: Sandbox
) -> None:
    await _join(agora.client)
    rec = await agora.begin("mix")
    response = await agora.client.post(f"/_sandbox/recordings/{rec.sid}/failover", json={})
    new_uid = response.json()["new_uid"]
    failover = _recording_events(world, rec.sid)[-1][1]
    assert failover["details"] == {"msgName": "session_failover", "newUid": new_uid}
    member = world.channels.member("room1", new_uid)
    assert member is not None
    assert member.is_recorder
    assert world.channels.member("room1", int(rec.uid)) is None


async def test_failover_window_answers_404_until_it_passes(
    agora: Agora, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    await agora.client.post(f"/_sandbox/recordings/{rec.sid}/failover", json={"not_found_s": 10})
    assert (await agora.query(rec)).status_code == 404
    clock.advance(10)
    assert (await agora.query(rec)).status_code == 200


async def test_files_after_a_failover_carry_the_bak_prefix(agora: Agora) -> None:
    await _join(agora.client)
    rec = await agora.begin("mix", mix_request(recordingFileConfig={"avFileType": ["hls", "mp4"]}))
    await agora.client.post(f"/_sandbox/recordings/{rec.sid}/failover", json={})
    files = (await agora.stop(rec)).json()["serverResponse"]["fileList"]
    names = {f["fileName"] for f in files}
    assert {f"{rec.sid}_room1.m3u8", f"bak0_{rec.sid}_room1.m3u8"} <= names


async def test_fourth_failover_ends_the_task(agora: Agora) -> None:
    rec = await agora.begin("mix")
    for _ in range(4):
        await agora.client.post(f"/_sandbox/recordings/{rec.sid}/failover", json={})
    assert (await agora.query(rec)).status_code == 404


async def test_backup_upload_reports_backuped_and_event_32(
    agora: Agora, world: Sandbox, clock: ManualClock
) -> None:
    await _join(agora.client)
    rec = await agora.begin("mix")
    await agora.client.post(f"/_sandbox/recordings/{rec.sid}/backup")
    stopped = await agora.stop(rec)
    clock.advance(2)
    world.tick()
    assert stopped.json()["serverResponse"]["uploadingStatus"] == "backuped"
    assert 32 in _kinds(world, rec)
    assert 31 not in _kinds(world, rec)


async def test_recordings_listing_shows_each_task(agora: Agora) -> None:
    rec = await agora.begin("mix")
    listed = (await agora.client.get("/_sandbox/recordings")).json()
    assert [(t["sid"], t["mode"], t["phase"], t["status"]) for t in listed] == [
        (rec.sid, "mix", "running", 1)
    ]
