"""A recording's life: status progression, files on stop, 435, 49, 404, web mode, updates."""

from __future__ import annotations

import httpx

from sandbox.config import ManualClock
from tests.support.sandbox import Agora, individual_request, mix_request, web_request


async def _join(
    client: httpx.AsyncClient, uid: int, channel: str = "room1", **body: object
) -> None:
    response = await client.post(f"/_sandbox/channels/{channel}/join", json={"uid": uid, **body})
    assert response.status_code == 200, response.text


async def test_query_status_progresses_to_5_once_someone_publishes(
    agora: Agora, clock: ManualClock
) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    statuses = []
    for _ in range(6):
        statuses.append((await agora.query(rec)).json()["serverResponse"]["status"])
        clock.advance(1)
    assert statuses == [1, 2, 3, 4, 4, 5]


async def test_query_status_stays_4_while_nobody_publishes(
    agora: Agora, clock: ManualClock
) -> None:
    rec = await agora.begin("mix")
    clock.advance(20)
    assert (await agora.query(rec)).json()["serverResponse"]["status"] == 4


async def test_query_of_an_unknown_task_answers_404_failed_to_find_worker(agora: Agora) -> None:
    rec = await agora.begin("mix")
    rec.sid = "0" * 32
    response = await agora.query(rec)
    assert (response.status_code, response.json()) == (
        404,
        {"code": 404, "reason": "failed to find worker"},
    )


async def test_mix_hls_stop_lists_the_m3u8_in_string_mode(agora: Agora) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    response = await agora.stop(rec)
    server = response.json()["serverResponse"]
    assert response.status_code == 200
    assert server == {
        "fileListMode": "string",
        "fileList": f"{rec.sid}_room1.m3u8",
        "uploadingStatus": "uploaded",
    }


async def test_mix_hls_mp4_stop_lists_files_in_json_mode_under_the_prefix(agora: Agora) -> None:
    await _join(agora.client, 42)
    request = mix_request(recordingFileConfig={"avFileType": ["hls", "mp4"]})
    request["storageConfig"]["fileNamePrefix"] = ["rec", "day1"]
    rec = await agora.begin("mix", request)
    server = (await agora.stop(rec)).json()["serverResponse"]
    assert server["fileListMode"] == "json"
    assert [f["fileName"] for f in server["fileList"]] == [
        f"rec/day1/{rec.sid}_room1.m3u8",
        f"rec/day1/{rec.sid}_room1_0.mp4",
    ]
    assert all(f["uid"] == "0" and f["mixedAllUser"] for f in server["fileList"])


async def test_individual_stop_lists_one_file_per_uid_and_track(agora: Agora) -> None:
    await _join(agora.client, 42)
    await _join(agora.client, 43)
    rec = await agora.begin("individual")
    server = (await agora.stop(rec)).json()["serverResponse"]
    assert server["fileListMode"] == "json"
    assert sorted(f["fileName"] for f in server["fileList"]) == sorted(
        f"{rec.sid}_room1__uid_s_{uid}__uid_e_{track}.m3u8"
        for uid in (42, 43)
        for track in ("audio", "video")
    )


async def test_individual_recording_honours_the_subscribe_lists(agora: Agora) -> None:
    await _join(agora.client, 42)
    await _join(agora.client, 43)
    request = individual_request()
    request["recordingConfig"]["subscribeAudioUids"] = ["43"]
    rec = await agora.begin("individual", request)
    files = (await agora.stop(rec)).json()["serverResponse"]["fileList"]
    assert [(f["uid"], f["trackType"]) for f in files] == [("43", "audio")]


async def test_stop_when_nobody_published_answers_206_code_435(agora: Agora) -> None:
    rec = await agora.begin("mix")
    response = await agora.stop(rec)
    assert (response.status_code, response.json()["code"]) == (206, 435)
    assert response.json()["reason"] == "no recorded data"


async def test_stop_while_exiting_answers_400_code_49(agora: Agora) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    await agora.stop(rec)
    response = await agora.stop(rec)
    assert (response.status_code, response.json()) == (
        400,
        {"code": 49, "reason": "invalid operation"},
    )


async def test_stop_after_the_task_exited_answers_404(agora: Agora, clock: ManualClock) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    await agora.stop(rec)
    clock.advance(2)
    assert (await agora.stop(rec)).status_code == 404


async def test_query_after_stop_answers_404(agora: Agora) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    await agora.stop(rec)
    assert (await agora.query(rec)).status_code == 404


async def test_idle_recording_exits_after_max_idle_time(agora: Agora, clock: ManualClock) -> None:
    rec = await agora.begin("mix")
    clock.advance(29.9)
    assert (await agora.query(rec)).status_code == 200
    clock.advance(0.1)
    assert (await agora.query(rec)).status_code == 404


async def test_idle_timer_restarts_when_the_last_user_leaves(
    agora: Agora, clock: ManualClock
) -> None:
    await _join(agora.client, 42)
    rec = await agora.begin("mix")
    clock.advance(100)
    await agora.client.post("/_sandbox/channels/room1/leave", json={"uid": 42})
    clock.advance(29)
    assert (await agora.query(rec)).status_code == 200


async def test_audience_alone_leaves_a_live_recording_idle(
    agora: Agora, clock: ManualClock
) -> None:
    await _join(agora.client, 42, role="audience", profile="live")
    request = mix_request(recordingConfig={"channelType": 1, "maxIdleTime": 30})
    rec = await agora.begin("mix", request)
    clock.advance(30)
    assert (await agora.query(rec)).status_code == 404


async def test_live_host_keeps_a_recording_busy(agora: Agora, clock: ManualClock) -> None:
    await _join(agora.client, 42, role="host", profile="live")
    rec = await agora.begin("mix", mix_request(recordingConfig={"channelType": 1}))
    clock.advance(300)
    assert (await agora.query(rec)).status_code == 200


async def test_stop_during_the_exit_after_idle_answers_49(agora: Agora, clock: ManualClock) -> None:
    rec = await agora.begin("mix")
    clock.advance(30)
    assert (await agora.stop(rec)).json()["code"] == 49


async def test_web_recording_never_idles(agora: Agora, clock: ManualClock) -> None:
    rec = await agora.begin("web")
    clock.advance(3599)
    response = await agora.query(rec)
    assert response.json()["serverResponse"]["status"] == 5
    assert response.json()["serverResponse"]["extensionServiceState"][0]["payload"]["state"] == (
        "inProgress"
    )


async def test_web_recording_ends_at_max_recording_hour(agora: Agora, clock: ManualClock) -> None:
    rec = await agora.begin("web")
    clock.advance(3600)
    assert (await agora.query(rec)).status_code == 404


async def test_web_stop_reports_the_extension_service_state(agora: Agora) -> None:
    rec = await agora.begin("web")
    states = (await agora.stop(rec)).json()["serverResponse"]["extensionServiceState"]
    assert states[0] == {
        "serviceName": "upload_service",
        "payload": {"uploadingStatus": "uploaded"},
    }
    assert states[1]["serviceName"] == "web_recorder_service"
    assert states[1]["payload"]["fileList"][0]["filename"] == f"{rec.sid}_room1.m3u8"


async def test_web_update_puts_the_recording_on_hold(agora: Agora) -> None:
    rec = await agora.begin("web", web_request())
    response = await agora.update(rec, "update", {"webRecordingConfig": {"onhold": True}})
    state = (await agora.query(rec)).json()["serverResponse"]["extensionServiceState"][0]
    assert response.json() == {
        "cname": "room1",
        "uid": rec.uid,
        "resourceId": rec.resource_id,
        "sid": rec.sid,
    }
    assert state["payload"]["onhold"] is True


async def test_update_changes_which_uids_are_recorded(agora: Agora) -> None:
    await _join(agora.client, 42)
    await _join(agora.client, 43)
    rec = await agora.begin("individual")
    change = {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["42"]}}}
    assert (await agora.update(rec, "update", change)).status_code == 200
    files = (await agora.stop(rec)).json()["serverResponse"]["fileList"]
    assert sorted((f["uid"], f["trackType"]) for f in files) == [
        ("42", "audio"),
        ("42", "video"),
        ("43", "video"),
    ]


async def test_update_layout_on_a_running_mix_recording_succeeds(agora: Agora) -> None:
    rec = await agora.begin("mix")
    layout = {
        "mixedVideoLayout": 3,
        "layoutConfig": [{"uid": "1", "x_axis": 0.1, "y_axis": 0.1, "width": 0.5, "height": 0.5}],
    }
    assert (await agora.update(rec, "updateLayout", layout)).status_code == 200


async def test_update_after_stop_answers_404(agora: Agora) -> None:
    rec = await agora.begin("mix")
    await agora.stop(rec)
    assert (await agora.update(rec, "updateLayout", {})).status_code == 404


async def test_task_is_unreachable_after_resource_expired_hour(
    agora: Agora, clock: ManualClock
) -> None:
    await _join(agora.client, 42)
    acquired = await agora.acquire(resourceExpiredHour=1)
    started = await agora.start(acquired.json()["resourceId"], "mix", mix_request())
    rec_sid = started.json()["sid"]
    clock.advance(3600)
    url = f"{agora.base}/resourceid/{acquired.json()['resourceId']}/sid/{rec_sid}/mode/mix/query"
    assert (await agora.client.get(url)).status_code == 404
    stats = (await agora.client.get("/_sandbox/stats")).json()
    assert stats["active"] == 1
