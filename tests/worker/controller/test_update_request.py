"""Turning a change into an Agora request (pure): which sessions may be changed how, the
request built for each kind of change, and Agora's own rules named in the change's terms."""

from __future__ import annotations

import pytest

from worker.agora import AgoraNotFound, AgoraTransportError, Endpoint, ErrorClass
from worker.agora.models import UpdateClientRequest, UpdateLayoutClientRequest
from worker.controller.update_request import (
    change_field,
    failure_outcome,
    layout_request,
    refusal,
    update_request,
)
from worker.policies.enums import Mode
from worker.state.changes import InvalidChange, RecordingChange, outcome, parse_change
from worker.state.sessions import Session, SessionState

LAYOUT = parse_change({"layout": {"mixed_video_layout": 1}})
SUBSCRIBE = parse_change({"subscribe": {"audio_uids": ["11"]}})
WEB = parse_change({"web": {"on_hold": True}})


def session(
    mode: Mode = Mode.MIX, state: SessionState = SessionState.RUNNING, sid: str | None = "sid1"
) -> Session:
    return Session(
        channel="room-1",
        state=state,
        uid=4200000001,
        uid_index=0,
        mode=mode,
        policy="default",
        created_ms=1,
        resource_id="res1",
        sid=sid,
    )


@pytest.mark.parametrize("change", [LAYOUT, SUBSCRIBE])
def test_a_running_mix_recording_takes_a_layout_or_a_subscription_change(
    change: RecordingChange,
) -> None:
    assert refusal("room-1", session(Mode.MIX), change) is None
    assert refusal("room-1", session(Mode.MIX, SessionState.STARTED), change) is None


def test_no_session_is_no_recording() -> None:
    assert refusal("room-1", None, LAYOUT) == outcome(
        "conflict", error="no recording runs in room-1"
    )


@pytest.mark.parametrize(
    "state",
    [
        SessionState.ACQUIRING,
        SessionState.STARTING,
        SessionState.SID_UNKNOWN,
        SessionState.STOPPING,
    ],
)
def test_a_recording_not_started_or_running_is_not_changed(state: SessionState) -> None:
    refused = refusal("room-1", session(state=state), LAYOUT)

    assert refused == outcome("conflict", error="no recording runs in room-1")


def test_a_recording_without_a_sid_is_not_changed() -> None:
    assert refusal("room-1", session(sid=None), LAYOUT) is not None


@pytest.mark.parametrize(
    ("mode", "change", "field"),
    [
        (Mode.INDIVIDUAL, LAYOUT, "layout"),
        (Mode.WEB, LAYOUT, "layout"),
        (Mode.WEB, SUBSCRIBE, "subscribe"),
        (Mode.MIX, WEB, "web"),
        (Mode.INDIVIDUAL, WEB, "web"),
    ],
)
def test_a_change_the_mode_does_not_allow_is_a_conflict_naming_the_field(
    mode: Mode, change: RecordingChange, field: str
) -> None:
    refused = refusal("room-1", session(mode), change)

    assert refused is not None
    assert (refused["result"], refused["field"], refused["agora"]) == ("conflict", field, None)
    assert "room-1" in (refused["error"] or "")


def test_a_layout_change_becomes_the_update_layout_request() -> None:
    change = parse_change(
        {
            "layout": {
                "mixed_video_layout": 3,
                "background_color": "#000000",
                "layout_config": [
                    {"uid": "11", "x_axis": 0.5, "y_axis": 0, "width": 0.5, "height": 1}
                ],
            }
        }
    )
    assert change.layout is not None

    request = layout_request(change.layout)

    assert isinstance(request, UpdateLayoutClientRequest)
    assert request.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "mixedVideoLayout": 3,
        "backgroundColor": "#000000",
        "layoutConfig": [{"uid": "11", "x_axis": 0.5, "y_axis": 0.0, "width": 0.5, "height": 1.0}],
    }


def test_a_subscription_change_becomes_the_stream_subscribe_of_update() -> None:
    change = parse_change(
        {"subscribe": {"audio_uids": ["11", "12"], "unsubscribe_video_uids": ["#allstream#"]}}
    )

    request = update_request(change)

    assert isinstance(request, UpdateClientRequest)
    assert request.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "streamSubscribe": {
            "audioUidList": {"subscribeAudioUids": ["11", "12"]},
            "videoUidList": {"unsubscribeVideoUids": ["#allstream#"]},
        }
    }


def test_a_web_change_becomes_the_onhold_of_update() -> None:
    request = update_request(WEB)

    assert request.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "webRecordingConfig": {"onhold": True}
    }


def test_agoras_layout_rules_are_named_in_the_changes_terms() -> None:
    custom_without_regions = parse_change({"layout": {"mixed_video_layout": 3}})
    assert custom_without_regions.layout is not None

    with pytest.raises(InvalidChange) as refused:
        layout_request(custom_without_regions.layout)

    assert refused.value.field == "layout.layout_config"


def test_too_many_subscribed_uids_are_named_in_the_changes_terms() -> None:
    many = parse_change({"subscribe": {"video_uids": [str(uid) for uid in range(1, 100)]}})

    with pytest.raises(InvalidChange) as refused:
        update_request(many)

    assert refused.value.field == "subscribe.video_uids"


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        ("layoutConfig[2].x_axis", "layout.layout_config[2].x_axis"),
        ("clientRequest.maxResolutionUid", "layout.max_resolution_uid"),
        ("backgroundConfig[0].image_url", "layout.background_config[0].image_url"),
        ("streamSubscribe.audioUidList.subscribeAudioUids[1]", "subscribe.audio_uids[1]"),
        ("streamSubscribe.videoUidList.unsubscribeVideoUids", "subscribe.unsubscribe_video_uids"),
        ("streamSubscribe.audioUidList", "subscribe.audio_uids"),
        ("clientRequest.streamSubscribe", "subscribe"),
        ("webRecordingConfig.onhold", "web.on_hold"),
        ("stream_subscribe.video_uid_list.subscribe_video_uids", "subscribe.video_uids"),
    ],
)
def test_a_request_field_maps_to_the_changes_field(wire: str, field: str) -> None:
    group = field.split(".", 1)[0]

    assert change_field(group, wire) == field  # type: ignore[arg-type]


def test_an_agora_answer_keeps_status_code_and_reason() -> None:
    error = AgoraNotFound(
        "updateLayout: HTTP 404 code 404: failed to find worker (not_found)",
        endpoint=Endpoint.UPDATE_LAYOUT,
        request_id=None,
        status=404,
        code=404,
        reason="failed to find worker",
        error_class=ErrorClass.NOT_FOUND,
        base_url="https://api.sd-rtn.com",
        attempts=1,
    )

    assert failure_outcome(error) == outcome(
        "agora_error",
        error="updateLayout: HTTP 404 code 404: failed to find worker (not_found)",
        agora={"status": 404, "code": 404, "reason": "failed to find worker"},
    )


def test_no_answer_from_agora_is_an_agora_error_without_an_answer() -> None:
    error = AgoraTransportError(
        "update: no answer",
        endpoint=Endpoint.UPDATE,
        base_url="https://api.sd-rtn.com",
        attempts=3,
        delivered=True,
    )

    assert failure_outcome(error) == outcome("agora_error", error="update: no answer")
