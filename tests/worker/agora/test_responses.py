"""Answers are read defensively: both fileList modes, web service states, unknown fields."""

from __future__ import annotations

from ipaddress import IPv4Address

from worker.agora.models import (
    ChannelProfile,
    ChannelUsers,
    QueryResponse,
    RecordingStatus,
    StopResponse,
)
from worker.agora.models.responses import ErrorBody, NcsIpAnswer

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"


def test_string_mode_file_list_becomes_one_file() -> None:
    query = QueryResponse.model_validate(
        {
            "resourceId": "r",
            "sid": SID,
            "serverResponse": {"status": 5, "fileListMode": "string", "fileList": "a.m3u8"},
        }
    )
    assert [f.file_name for f in query.server_response.file_list] == ["a.m3u8"]


def test_json_mode_file_list_keeps_every_file_field() -> None:
    item = {
        "fileName": "b.m3u8",
        "trackType": "audio_and_video",
        "uid": "0",
        "mixedAllUser": True,
        "isPlayable": True,
        "sliceStartTime": 1562724971626,
    }
    stop = StopResponse.model_validate(
        {
            "serverResponse": {
                "fileListMode": "json",
                "fileList": [item],
                "uploadingStatus": "uploaded",
            }
        }
    )
    (recorded,) = stop.server_response.file_list
    assert (recorded.file_name, recorded.track_type, recorded.uid) == (
        "b.m3u8",
        "audio_and_video",
        "0",
    )
    assert (recorded.mixed_all_user, recorded.is_playable) == (True, True)
    assert recorded.slice_start_time_ms == 1562724971626
    assert stop.server_response.uploading_status == "uploaded"


def test_a_numeric_file_uid_is_read_as_text() -> None:
    stop = StopResponse.model_validate(
        {"serverResponse": {"fileList": [{"fileName": "x", "uid": 57}]}}
    )
    assert stop.server_response.file_list[0].uid == "57"


def test_status_four_and_five_count_as_running() -> None:
    statuses = {
        s: QueryResponse.model_validate(
            {"serverResponse": {"status": s}}
        ).server_response.is_running
        for s in (0, 1, 2, 3, 4, 5, 6, 7, 8, 20)
    }
    assert {s for s, running in statuses.items() if running} == {4, 5}


def test_an_undocumented_status_is_kept_but_not_named() -> None:
    query = QueryResponse.model_validate({"serverResponse": {"status": 99}})
    assert (query.server_response.status, query.server_response.recording_status) == (99, None)


def test_a_documented_status_is_named() -> None:
    query = QueryResponse.model_validate({"serverResponse": {"status": 20}})
    assert query.server_response.recording_status is RecordingStatus.EXITED_ABNORMALLY


def test_web_query_reads_recorder_and_rtmp_states() -> None:
    query = QueryResponse.model_validate(
        {
            "serverResponse": {
                "status": 5,
                "extensionServiceState": [
                    {
                        "serviceName": "web_recorder_service",
                        "payload": {
                            "fileList": [{"filename": "w.m3u8", "sliceStartTime": 0}],
                            "onhold": False,
                            "state": "inProgress",
                        },
                    },
                    {
                        "serviceName": "rtmp_publish_service",
                        "payload": {
                            "outputs": [{"rtmpUrl": "rtmp://cdn/x", "status": "publishing"}],
                            "state": "inProgress",
                        },
                    },
                ],
            }
        }
    )
    web, rtmp = query.server_response.extension_service_state
    assert (web.payload.file_list[0].file_name, web.payload.state) == ("w.m3u8", "inProgress")
    assert rtmp.payload.outputs[0].status == "publishing"


def test_web_stop_reads_the_upload_service_state() -> None:
    stop = StopResponse.model_validate(
        {
            "serverResponse": {
                "extensionServiceState": [
                    {"payload": {"uploadingStatus": "uploaded"}, "serviceName": "upload_service"}
                ]
            }
        }
    )
    assert stop.server_response.extension_service_state[0].payload.uploading_status == "uploaded"


def test_the_old_playload_spelling_is_understood() -> None:
    stop = StopResponse.model_validate(
        {
            "serverResponse": {
                "extensionServiceState": [
                    {"playload": {"uploadingStatus": "backuped"}, "serviceName": "upload_service"}
                ]
            }
        }
    )
    assert stop.server_response.extension_service_state[0].payload.uploading_status == "backuped"


def test_unknown_fields_are_ignored() -> None:
    query = QueryResponse.model_validate(
        {"sid": SID, "novel": {"x": 1}, "serverResponse": {"status": 5, "futureField": [1]}}
    )
    assert query.sid == SID


def test_a_stop_without_server_response_still_parses() -> None:
    assert (
        StopResponse.model_validate({"resourceId": "r", "sid": SID}).server_response.file_list == []
    )


def test_error_bodies_read_code_reason_and_ids_next_to_each_other() -> None:
    body = ErrorBody.model_validate({"resourceId": "r", "sid": "", "code": 15, "reason": "x"})
    assert (body.code, body.reason, body.resource_id) == (15, "x", "r")


def test_error_bodies_tolerate_odd_types() -> None:
    body = ErrorBody.model_validate({"code": "65", "reason": {"nested": 1}, "message": 5})
    assert (body.code, body.reason, body.message) == (65, None, None)


def test_communication_user_list_counts_every_user_as_present() -> None:
    users = ChannelUsers.model_validate(
        {"channel_exist": True, "mode": 1, "total": 1, "users": [906218805]}
    )
    assert (users.profile, users.hosts) == (ChannelProfile.COMMUNICATION, [906218805])


def test_live_user_list_counts_broadcasters_as_present() -> None:
    users = ChannelUsers.model_validate(
        {
            "channel_exist": True,
            "mode": 2,
            "broadcasters": [2206227541, 2845863044],
            "audience": [906219905],
            "audience_total": 1,
        }
    )
    assert users.hosts == [2206227541, 2845863044]
    assert (users.audience, users.audience_total) == ([906219905], 1)


def test_a_missing_channel_has_nobody() -> None:
    users = ChannelUsers.model_validate({"channel_exist": False})
    assert (users.channel_exist, users.hosts, users.profile) == (False, [], None)


def test_ncs_ip_list_reads_primary_ips_as_addresses() -> None:
    answer = NcsIpAnswer.model_validate(
        {
            "data": {
                "service": {"hosts": [{"primaryIP": "203.0.113.7"}, {"primaryIP": "198.51.100.1"}]}
            }
        }
    )
    assert [h.primary_ip for h in answer.data.service.hosts] == [
        IPv4Address("203.0.113.7"),
        IPv4Address("198.51.100.1"),
    ]
