"""Policies become Agora start requests; recorder uids; storage from settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from worker.agora.models.common import WIRE_CONTEXT, RecordingMode
from worker.agora.models.modes import check_start
from worker.controller.recorder_uids import recorder_uids
from worker.controller.start_request import StorageTarget, recorder_token, start_request
from worker.policies import parse_policies
from worker.settings import ConfigError, Settings

STORAGE = StorageTarget(
    vendor=1,
    region=0,
    bucket="bucket",
    access_key=SecretStr("access"),
    secret_key=SecretStr("s3cr3t-value"),
)
AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
POLICIES = """
[[rule]]
match = "class-*"
mode = "individual"
streams = "audio"
[[rule]]
match = "page-*"
mode = "web"
web_url = "https://example.com/view/{channel}"
max_duration_s = 7200
"""


def _policy(channel: str):  # type: ignore[no-untyped-def]
    return parse_policies(POLICIES, default_grace_s=30).match(channel)


def test_the_default_policy_starts_a_mix_recording_of_audio_and_video() -> None:
    request = start_request(
        _policy("room-1"), channel="room-1", storage=STORAGE, token=None, observed_live=False
    )
    check_start(RecordingMode.MIX, request)
    assert request.recording_config is not None
    assert request.recording_config.transcoding_config is not None
    assert request.recording_config.max_idle_time == 300
    assert (request.storage_config.file_name_prefix or [])[:2] == ["recordings", "room1"]


def test_an_individual_policy_sends_a_uid_group_and_no_transcoding() -> None:
    request = start_request(
        _policy("class-7"), channel="class-7", storage=STORAGE, token=None, observed_live=True
    )
    check_start(RecordingMode.INDIVIDUAL, request)
    config = request.recording_config
    assert config is not None
    assert (config.subscribe_uid_group, config.transcoding_config) == (1, None)
    assert (int(config.channel_type), int(config.stream_types or 0)) == (1, 0)


def test_a_web_policy_records_the_page_for_the_channel() -> None:
    request = start_request(
        _policy("page-1"), channel="page-1", storage=STORAGE, token=None, observed_live=None
    )
    check_start(RecordingMode.WEB, request)
    assert request.extension_service_config is not None
    service = request.extension_service_config.extension_services[0]
    assert service.service_param.url == "https://example.com/view/page-1"  # type: ignore[union-attr]
    assert service.service_param.max_recording_hour == 2  # type: ignore[union-attr]


def test_the_storage_secret_reaches_only_the_wire_form() -> None:
    request = start_request(
        _policy("room-1"), channel="room-1", storage=STORAGE, token=None, observed_live=False
    )
    assert "s3cr3t-value" not in repr(request)
    wire = request.model_dump(by_alias=True, context=WIRE_CONTEXT)
    assert wire["storageConfig"]["secretKey"] == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(STORAGE)


def test_a_recorder_token_is_made_only_with_a_certificate() -> None:
    policy = _policy("room-1")
    app_id = "5a4d5a1a1b5c4e1f9f3a7c2b8d6e0f11"
    assert recorder_token(app_id, None, "room-1", 4_200_000_001, policy) is None
    token = recorder_token(app_id, SecretStr("0" * 32), "room-1", 4_200_000_001, policy)
    assert token is not None
    assert token.get_secret_value().startswith("007")


def test_a_worker_without_storage_names_the_first_missing_variable() -> None:
    with pytest.raises(ConfigError, match="STORAGE_VENDOR"):
        StorageTarget.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@given(st.text(min_size=1, max_size=63))
def test_recorder_uids_are_two_distinct_uids_of_the_reserved_range(channel: str) -> None:
    uids = recorder_uids(channel, 4_200_000_000, 4_294_967_294)
    assert uids.primary != uids.backup
    for uid in (uids.primary, uids.backup):
        assert 4_200_000_000 <= uid <= 4_294_967_294
    assert recorder_uids(channel, 4_200_000_000, 4_294_967_294) == uids


def test_a_two_uid_range_still_gives_two_uids() -> None:
    uids = recorder_uids("room-1", 7, 8)
    assert {uids.primary, uids.backup} == {7, 8}
