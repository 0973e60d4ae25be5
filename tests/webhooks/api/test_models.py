"""The API models: the policy fields are the policy's, answers come from the worker's views."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from webhooks.api.models import (
    ChannelOut,
    OverrideRequest,
    PolicyFields,
    RecordingOut,
    RecordRequest,
    TranscodingFields,
)
from worker.policies.model import Policy
from worker.policies.overlay import PER_RECORDING, overlay
from worker.policies.transcoding import Transcoding
from worker.state.views import (
    AgoraErrorView,
    ChannelView,
    FileView,
    OverrideView,
    RecordingView,
)


def recording_view(**changes: object) -> RecordingView:
    fields: dict[str, object] = {
        "id": "sid-1",
        "channel": "room-1",
        "sid": "sid-1",
        "resource_id": "res-1",
        "recorder_uid": 4_200_000_001,
        "mode": "mix",
        "streams": "both",
        "started_at": datetime(2025, 1, 31, 12, tzinfo=UTC),
        "stopped_at": None,
        "duration_s": 12.5,
        "state": "recording",
        "outcome": None,
        "stop_reason": None,
        "error": None,
        "upload_status": None,
        "files": [FileView("a.m3u8")],
        "segment": 1,
        "logical_id": "sid-1",
    }
    fields.update(changes)
    return RecordingView(**fields)  # type: ignore[arg-type]


def test_the_per_recording_fields_are_exactly_the_policys() -> None:
    assert set(PolicyFields.model_fields) == PER_RECORDING
    assert set(RecordRequest.model_fields) == PER_RECORDING | {"expires_at"}
    assert set(OverrideRequest.model_fields) == PER_RECORDING | {
        "record",
        "until_empty",
        "expires_at",
    }
    assert set(TranscodingFields.model_fields) == set(Transcoding.model_fields)


def test_the_fields_a_caller_set_lay_over_the_channels_policy() -> None:
    body = RecordRequest.model_validate(
        {"mode": "mix", "transcoding": {"width": 1280, "height": 720}, "max_duration_s": 3600}
    )

    policy = overlay(Policy(), body.policy_overrides())

    assert body.policy_overrides() == {
        "mode": "mix",
        "transcoding": {"width": 1280, "height": 720},
        "max_duration_s": 3600,
    }
    assert (policy.transcoding, policy.max_duration_s) == (
        Transcoding(width=1280, height=720),
        3600,
    )


def test_expires_at_is_an_rfc3339_time_kept_in_utc() -> None:
    body = RecordRequest.model_validate({"expires_at": "2025-01-31T13:00:00+01:00"})

    assert body.expires_at == datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert "expires_at" not in body.policy_overrides()


@pytest.mark.parametrize("value", ["2025-01-31T12:00:00", 1738324800, "tomorrow"])
def test_expires_at_without_a_zone_or_as_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        RecordRequest.model_validate({"expires_at": value})


def test_an_override_needs_always_or_never() -> None:
    assert OverrideRequest.model_validate({"record": "never"}).until_empty is False
    with pytest.raises(ValidationError):
        OverrideRequest.model_validate({"record": "sometimes"})
    with pytest.raises(ValidationError):
        OverrideRequest.model_validate({})


def test_a_recording_answer_is_built_from_the_workers_view() -> None:
    view = recording_view(
        state="finished",
        stopped_at=datetime(2025, 1, 31, 13, tzinfo=UTC),
        outcome="stopped",
        stop_reason="manual",
        error=AgoraErrorView(status=None, code=None, reason="no answer"),
        upload_status="uploaded",
    )

    answer = orjson.loads(RecordingOut.model_validate(view).model_dump_json())

    assert set(answer) == {
        "id", "channel", "sid", "resource_id", "recorder_uid", "mode", "streams", "started_at",
        "stopped_at", "duration_s", "state", "outcome", "stop_reason", "error", "upload_status",
        "files", "segment", "logical_id",
    }  # fmt: skip
    assert answer["started_at"] == "2025-01-31T12:00:00Z"
    assert answer["error"] == {"status": None, "code": None, "reason": "no answer"}
    assert answer["files"] == [
        {
            "filename": "a.m3u8",
            "track_type": None,
            "uid": None,
            "mixed_all_user": None,
            "is_playable": None,
            "slice_start_time": None,
        }
    ]


def test_a_channel_answer_is_built_from_the_workers_view() -> None:
    view = ChannelView(
        channel="room-1",
        state="recording",
        occupancy=2,
        desired=True,
        override=OverrideView(
            record="always",
            until_empty=False,
            expires_at=None,
            set_at=datetime(2025, 1, 31, 11, tzinfo=UTC),
        ),
        waiting_position=None,
        recording=recording_view(),
    )

    answer = orjson.loads(ChannelOut.model_validate(view).model_dump_json())

    assert set(answer) == {
        "channel", "state", "occupancy", "desired", "override", "waiting_position", "recording",
    }  # fmt: skip
    assert answer["override"] == {
        "record": "always",
        "until_empty": False,
        "expires_at": None,
        "set_at": "2025-01-31T11:00:00Z",
    }
    assert answer["recording"]["state"] == "recording"
