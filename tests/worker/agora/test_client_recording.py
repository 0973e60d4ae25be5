"""Every endpoint and mode of the real client, against the sandbox in process."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from pydantic import SecretStr

from sandbox.models import Phase
from tests.support.agora import builders
from tests.support.agora.harness import RECORDER, ROOM, Harness, join, start_recording
from worker.agora import AgoraClient, StopOutcome
from worker.agora.models import (
    AcquireClientRequest,
    AcquireRegion,
    AudioUidList,
    ChannelProfile,
    FileListMode,
    LayoutRegion,
    MixedVideoLayout,
    RecordingFileConfig,
    RecordingMode,
    RtmpOutput,
    RtmpPublishParams,
    StartClientRequest,
    StreamSubscribe,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    VideoUidList,
    WebRecordingUpdate,
)

IND, MIX, WEB = RecordingMode.INDIVIDUAL, RecordingMode.MIX, RecordingMode.WEB


# --- acquire / start -------------------------------------------------------------------------


async def test_acquire_returns_a_resource_id_for_the_channel_and_uid(agora: AgoraClient) -> None:
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX)
    assert (acquired.cname, acquired.uid, len(acquired.resource_id) > 20) == (
        ROOM,
        str(RECORDER),
        True,
    )


async def test_acquire_in_web_mode_asks_for_the_web_page_scene(
    harness: Harness, agora: AgoraClient
) -> None:
    acquired = await agora.acquire(cname="https://example.com/room/1", uid=RECORDER, mode=WEB)
    assert harness.world.resources[acquired.resource_id].scene == 1


async def test_acquire_sends_expiry_region_and_start_parameter(
    harness: Harness, agora: AgoraClient
) -> None:
    request = AcquireClientRequest(
        resource_expired_hour=24, region=AcquireRegion.EU, start_parameter=builders.mix_start()
    )
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX, client_request=request)
    resource = harness.world.resources[acquired.resource_id]
    assert resource.resource_expired_hour == 24
    assert resource.start_parameter is not None
    assert resource.start_parameter["storageConfig"]["secretKey"] == builders.SECRET_KEY


async def test_a_start_matching_its_start_parameter_is_accepted(agora: AgoraClient) -> None:
    request = AcquireClientRequest(start_parameter=builders.mix_start())
    acquired = await agora.acquire(cname=ROOM, uid=RECORDER, mode=MIX, client_request=request)
    started = await agora.start(
        resource_id=acquired.resource_id,
        cname=ROOM,
        uid=RECORDER,
        mode=MIX,
        client_request=builders.mix_start(),
    )
    assert started.sid


@pytest.mark.parametrize(
    ("mode", "request_"),
    [
        (IND, builders.individual_start()),
        (IND, builders.snapshot_only_start()),
        (MIX, builders.mix_start()),
        (WEB, builders.web_start(rtmp_url="rtmp://cdn.example.com/live/stream")),
    ],
    ids=["individual", "snapshots", "mix", "web-rtmp"],
)
async def test_start_launches_a_task_and_returns_its_sid(
    harness: Harness, agora: AgoraClient, mode: RecordingMode, request_: StartClientRequest
) -> None:
    cname = "https://example.com/room/1" if mode is WEB else ROOM
    started = await start_recording(agora, mode, request_, cname=cname)
    task = harness.world.tasks[started.sid or ""]
    assert (task.mode, task.phase, started.already_started) == (mode, Phase.RUNNING, False)


@pytest.mark.parametrize(
    "storage",
    [
        builders.s3_compatible_storage(),
        builders.storage(sts_token=SecretStr(builders.STS_TOKEN), sts_expiration=2_000_000_000),
    ],
    ids=["s3-compatible", "sts"],
)
async def test_start_accepts_special_storage_setups(
    harness: Harness, agora: AgoraClient, storage: object
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start(storage_config=storage))
    assert harness.world.tasks[started.sid or ""].phase is Phase.RUNNING


# --- query ----------------------------------------------------------------------------------


async def test_individual_query_lists_a_playlist_per_user_and_track(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42)
    started = await start_recording(agora, IND, builders.individual_start())
    harness.clock.advance(10)
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=IND)
    server = query.server_response
    assert server.is_running
    assert server.file_list_mode == FileListMode.JSON
    assert sorted((f.uid, f.track_type) for f in server.file_list) == [
        ("42", "audio"),
        ("42", "video"),
    ]
    assert server.slice_start_time_ms is not None


async def test_mix_query_with_hls_only_names_one_playlist(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42)
    request = builders.mix_start(recording_file_config=RecordingFileConfig())
    started = await start_recording(agora, MIX, request)
    harness.clock.advance(10)
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    assert query.server_response.file_list_mode == FileListMode.STRING
    assert [f.file_name for f in query.server_response.file_list] == [
        f"autorec/room1/{started.sid}_{ROOM}.m3u8"
    ]


async def test_mix_query_with_mp4_lists_its_files_as_objects(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42)
    started = await start_recording(agora, MIX, builders.mix_start())
    harness.clock.advance(10)
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    files = query.server_response.file_list
    assert query.server_response.file_list_mode == FileListMode.JSON
    assert [f.file_name.rsplit(".", 1)[1] for f in files] == ["m3u8", "mp4"]
    assert {f.uid for f in files} == {"0"}


async def test_a_fresh_task_reports_its_startup_status(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=MIX)
    assert (query.server_response.status, query.server_response.is_running) == (1, False)


async def test_web_query_reports_the_recorder_and_rtmp_states(
    harness: Harness, agora: AgoraClient
) -> None:
    request = builders.web_start(rtmp_url="rtmp://cdn.example.com/live/stream")
    started = await start_recording(agora, WEB, request, cname="web-1")
    harness.clock.advance(10)
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=WEB)
    web, rtmp = query.server_response.extension_service_state
    assert (web.service_name, web.payload.state, web.payload.onhold) == (
        "web_recorder_service",
        "inProgress",
        False,
    )
    assert [f.file_name.rsplit(".", 1)[1] for f in web.payload.file_list] == ["m3u8", "mp4"]
    assert [(o.rtmp_url, o.status) for o in rtmp.payload.outputs] == [
        ("rtmp://cdn.example.com/live/stream", "publishing")
    ]


async def test_a_snapshot_only_query_reports_status_and_start_time(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, IND, builders.snapshot_only_start())
    query = await agora.query(resource_id=started.resource_id, sid=started.sid or "", mode=IND)
    assert query.server_response.file_list == []
    assert query.server_response.slice_start_time_ms is not None


# --- update / updateLayout --------------------------------------------------------------------


async def test_update_changes_which_uids_are_recorded(harness: Harness, agora: AgoraClient) -> None:
    started = await start_recording(agora, IND, builders.individual_start())
    update = UpdateClientRequest(
        stream_subscribe=StreamSubscribe(
            audio_uid_list=AudioUidList(unsubscribe_audio_uids=["42"]),
            video_uid_list=VideoUidList(subscribe_video_uids=["42", "43"]),
        )
    )
    answer = await agora.update(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname=ROOM,
        uid=RECORDER,
        mode=IND,
        client_request=update,
    )
    task = harness.world.tasks[started.sid or ""]
    assert answer.sid == started.sid
    assert (task.audio.admits(42), task.video.admits(43), task.video.admits(44)) == (
        False,
        True,
        False,
    )


async def test_update_pauses_a_web_recording(harness: Harness, agora: AgoraClient) -> None:
    started = await start_recording(agora, WEB, builders.web_start(), cname="web-1")
    await agora.update(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname="web-1",
        uid=RECORDER,
        mode=WEB,
        client_request=UpdateClientRequest(web_recording_config=WebRecordingUpdate(onhold=True)),
    )
    assert harness.world.tasks[started.sid or ""].onhold is True


async def test_update_replaces_the_rtmp_output_of_a_web_recording(
    harness: Harness, agora: AgoraClient
) -> None:
    request = builders.web_start(rtmp_url="rtmp://cdn.example.com/live/old")
    started = await start_recording(agora, WEB, request, cname="web-1")
    new_output = RtmpPublishParams(
        outputs=[RtmpOutput(rtmp_url="rtmps://cdn.example.com/live/new")]
    )
    await agora.update(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname="web-1",
        uid=RECORDER,
        mode=WEB,
        client_request=UpdateClientRequest(rtmp_publish_config=new_output),
    )
    assert harness.world.tasks[started.sid or ""].rtmp_urls == ("rtmps://cdn.example.com/live/new",)


async def test_update_hands_over_fresh_storage_credentials(agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    fresh = builders.storage(sts_token=SecretStr("fresh-sts-token"), sts_expiration=2_000_000_000)
    answer = await agora.update(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname=ROOM,
        uid=RECORDER,
        mode=MIX,
        client_request=UpdateClientRequest(storage_config=fresh),
    )
    assert answer.resource_id == started.resource_id


async def test_update_layout_replaces_the_layout_of_a_mix_recording(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    layout = UpdateLayoutClientRequest(
        mixed_video_layout=MixedVideoLayout.CUSTOM,
        background_color="#FF0000",
        layout_config=[LayoutRegion(uid="1", x_axis=0.1, y_axis=0.1, width=0.1, height=0.1)],
    )
    answer = await agora.update_layout(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname=ROOM,
        uid=RECORDER,
        client_request=layout,
    )
    assert answer.sid == started.sid
    assert (await harness.calls("updateLayout"))[-1]["status"] == 200


# --- stop -----------------------------------------------------------------------------------


async def test_stop_returns_the_recorded_files(harness: Harness, agora: AgoraClient) -> None:
    await join(harness, 42)
    started = await start_recording(agora, MIX, builders.mix_start())
    harness.clock.advance(10)
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert (result.outcome, result.status) == (StopOutcome.STOPPED, 200)
    assert result.response is not None
    assert result.response.server_response.uploading_status == "uploaded"
    assert len(result.response.server_response.file_list) == 2


async def test_stop_of_a_web_recording_reports_the_upload_state(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, WEB, builders.web_start(), cname="web-1")
    result = await agora.stop(
        resource_id=started.resource_id,
        sid=started.sid or "",
        cname="web-1",
        uid=RECORDER,
        mode=WEB,
        async_stop=True,
    )
    assert result.response is not None
    states = {
        s.service_name: s.payload for s in result.response.server_response.extension_service_state
    }
    assert states["upload_service"].uploading_status == "uploaded"
    assert states["web_recorder_service"].state == "exit"


async def test_stop_with_nobody_recorded_reports_no_recorded_data(agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert (result.outcome, result.status, result.code) == (StopOutcome.NO_RECORDED_DATA, 206, 435)


async def test_a_second_stop_while_exiting_reports_already_stopping(agora: AgoraClient) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    keys = {"resource_id": started.resource_id, "sid": started.sid or "", "cname": ROOM}
    await agora.stop(**keys, uid=RECORDER, mode=MIX)
    again = await agora.stop(**keys, uid=RECORDER, mode=MIX)
    assert (again.outcome, again.status, again.code) == (StopOutcome.ALREADY_STOPPING, 400, 49)


async def test_stop_of_a_task_that_died_reports_not_found(
    harness: Harness, agora: AgoraClient
) -> None:
    started = await start_recording(agora, MIX, builders.mix_start())
    await harness.admin("POST", f"/recordings/{started.sid}/kill")
    result = await agora.stop(
        resource_id=started.resource_id, sid=started.sid or "", cname=ROOM, uid=RECORDER, mode=MIX
    )
    assert (result.outcome, result.status, result.response) == (StopOutcome.NOT_FOUND, 404, None)


# --- channel users and NCS addresses -------------------------------------------------------


async def test_the_user_list_of_a_communication_channel_names_everyone(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42)
    await join(harness, 43)
    users = await agora.channel_users(ROOM)
    assert (users.channel_exist, users.profile, sorted(users.hosts)) == (
        True,
        ChannelProfile.COMMUNICATION,
        [42, 43],
    )


async def test_the_user_list_of_a_live_channel_separates_hosts_and_audience(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42, profile="live", role="host")
    await join(harness, 43, profile="live", role="audience")
    users = await agora.channel_users(ROOM)
    assert (users.hosts, users.audience, users.audience_total) == ([42], [43], 1)


async def test_hosts_only_leaves_the_audience_out(harness: Harness, agora: AgoraClient) -> None:
    await join(harness, 42, profile="live", role="host")
    await join(harness, 43, profile="live", role="audience")
    users = await agora.channel_users(ROOM, hosts_only=True)
    assert (users.broadcasters, users.audience, users.audience_total) == ([42], [], None)


async def test_a_channel_name_with_reserved_url_characters_reaches_the_right_channel(
    harness: Harness, agora: AgoraClient
) -> None:
    await join(harness, 42, channel="a b#c?d%e")
    assert (await agora.channel_users("a b#c?d%e")).users == [42]


async def test_an_empty_channel_does_not_exist(agora: AgoraClient) -> None:
    users = await agora.channel_users("nobody-here")
    assert (users.channel_exist, users.hosts) == (False, [])


@pytest.mark.parametrize("version", [1, 2])
async def test_the_ncs_address_list_is_read_as_ip_addresses(
    harness: Harness, agora: AgoraClient, version: int
) -> None:
    assert await agora.ncs_ips(version=version) == [IPv4Address("127.0.0.1")]  # type: ignore[arg-type]
    assert (await harness.calls("ncs_ip"))[-1]["path"] == f"/v{version}/ncs/ip"
