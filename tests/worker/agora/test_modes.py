"""The per-mode field table (agora-facts §2.4) and the cname/uid rules, as pure checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from tests.support.agora import builders
from worker.agora.models import (
    AcquireClientRequest,
    AudioProfile,
    AudioUidList,
    RecordingConfig,
    RecordingMode,
    RtmpOutput,
    RtmpPublishParams,
    Scene,
    SnapshotConfig,
    StartClientRequest,
    StreamMode,
    StreamSubscribe,
    StreamTypes,
    SubscribeUidGroup,
    TranscodingConfig,
    UpdateClientRequest,
    WebRecordingUpdate,
)
from worker.agora.models.common import FieldRuleError, channel_name_problem, check_uid
from worker.agora.models.modes import check_acquire, check_start, check_update, default_scene

IND, M, W = RecordingMode.INDIVIDUAL, RecordingMode.MIX, RecordingMode.WEB


def refused_field(rule: Callable[[], None]) -> str:
    with pytest.raises(FieldRuleError) as caught:
        rule()
    return caught.value.field


def with_config(base: StartClientRequest, **changes: object) -> StartClientRequest:
    assert base.recording_config is not None
    return base.model_copy(
        update={"recording_config": base.recording_config.model_copy(update=changes)}
    )


@pytest.mark.parametrize(
    ("mode", "request_"),
    [
        (IND, builders.individual_start(token="t")),
        (IND, builders.snapshot_only_start()),
        (M, builders.mix_start(token="t")),
        (W, builders.web_start()),
        (W, builders.web_start(rtmp_url="rtmp://cdn.example.com/live/key")),
    ],
    ids=["individual", "individual-snapshots", "mix", "web", "web-rtmp"],
)
def test_a_request_built_for_its_mode_passes(
    mode: RecordingMode, request_: StartClientRequest
) -> None:
    check_start(mode, request_)


@pytest.mark.parametrize(
    ("mode", "request_", "field"),
    [
        (W, builders.web_start().model_copy(update={"token": SecretStr("t")}), "token"),
        (
            W,
            builders.web_start().model_copy(update={"recording_config": RecordingConfig()}),
            "recordingConfig",
        ),
        (
            W,
            builders.web_start().model_copy(update={"snapshot_config": SnapshotConfig()}),
            "snapshotConfig",
        ),
        (
            W,
            builders.web_start().model_copy(update={"extension_service_config": None}),
            "extensionServiceConfig",
        ),
        (
            W,
            builders.web_start().model_copy(update={"recording_file_config": None}),
            "recordingFileConfig",
        ),
        (IND, builders.web_start(), "extensionServiceConfig"),
        (M, builders.web_start(), "extensionServiceConfig"),
        (
            M,
            builders.mix_start().model_copy(update={"recording_config": None}),
            "recordingConfig",
        ),
        (
            IND,
            builders.individual_start().model_copy(update={"recording_config": None}),
            "recordingConfig",
        ),
        (
            M,
            builders.mix_start().model_copy(update={"snapshot_config": SnapshotConfig()}),
            "snapshotConfig",
        ),
        (
            M,
            builders.mix_start().model_copy(update={"recording_file_config": None}),
            "recordingFileConfig",
        ),
        (
            M,
            with_config(builders.mix_start(), subscribe_uid_group=SubscribeUidGroup.UP_TO_2),
            "recordingConfig.subscribeUidGroup",
        ),
        (
            M,
            with_config(builders.mix_start(), stream_mode=StreamMode.STANDARD),
            "recordingConfig.streamMode",
        ),
        (
            IND,
            with_config(builders.individual_start(), subscribe_uid_group=None),
            "recordingConfig.subscribeUidGroup",
        ),
        (
            IND,
            with_config(builders.individual_start(), audio_profile=AudioProfile.MONO_48KHZ_48KBPS),
            "recordingConfig.audioProfile",
        ),
        (
            IND,
            with_config(
                builders.individual_start(),
                transcoding_config=TranscodingConfig(width=640, height=360, fps=15, bitrate=500),
            ),
            "recordingConfig.transcodingConfig",
        ),
        (
            IND,
            builders.individual_start().model_copy(update={"recording_file_config": None}),
            "recordingFileConfig",
        ),
        (
            IND,
            with_config(
                builders.snapshot_only_start(),
                stream_types=StreamTypes.AUDIO,
            ),
            "snapshotConfig",
        ),
        (
            IND,
            with_config(
                builders.snapshot_only_start(),
                stream_types=StreamTypes.AUDIO_AND_VIDEO,
                subscribe_audio_uids=["1"],
            ),
            "recordingConfig.subscribeVideoUids",
        ),
    ],
)
def test_a_field_outside_its_mode_is_refused_by_path(
    mode: RecordingMode, request_: StartClientRequest, field: str
) -> None:
    assert refused_field(lambda: check_start(mode, request_)) == f"clientRequest.{field}"


@pytest.mark.parametrize(
    ("mode", "scene"), [(IND, Scene.REAL_TIME), (M, Scene.REAL_TIME), (W, Scene.WEB_PAGE)]
)
def test_acquire_scene_follows_the_mode(mode: RecordingMode, scene: Scene) -> None:
    assert default_scene(mode) is scene


@pytest.mark.parametrize(
    ("mode", "scene"),
    [
        (W, Scene.REAL_TIME),
        (M, Scene.WEB_PAGE),
        (M, Scene.POSTPONE_TRANSCODING),
        (IND, Scene.WEB_PAGE),
    ],
)
def test_acquire_refuses_a_scene_of_another_mode(mode: RecordingMode, scene: Scene) -> None:
    rule = lambda: check_acquire(mode, AcquireClientRequest(scene=scene))  # noqa: E731
    assert refused_field(rule) == "clientRequest.scene"


def test_individual_mode_may_postpone_transcoding() -> None:
    check_acquire(IND, AcquireClientRequest(scene=Scene.POSTPONE_TRANSCODING))


def test_acquire_checks_its_start_parameter_against_the_mode() -> None:
    request = AcquireClientRequest(start_parameter=builders.web_start())
    assert refused_field(lambda: check_acquire(M, request)) == (
        "clientRequest.startParameter.extensionServiceConfig"
    )


@pytest.mark.parametrize(
    ("mode", "update", "field"),
    [
        (
            W,
            UpdateClientRequest(
                stream_subscribe=StreamSubscribe(
                    audio_uid_list=AudioUidList(subscribe_audio_uids=["1"])
                )
            ),
            "streamSubscribe",
        ),
        (
            IND,
            UpdateClientRequest(web_recording_config=WebRecordingUpdate(onhold=True)),
            "webRecordingConfig",
        ),
        (
            M,
            UpdateClientRequest(
                rtmp_publish_config=RtmpPublishParams(outputs=[RtmpOutput(rtmp_url="rtmp://a/b")])
            ),
            "rtmpPublishConfig",
        ),
    ],
)
def test_update_fields_outside_their_mode_are_refused(
    mode: RecordingMode, update: UpdateClientRequest, field: str
) -> None:
    assert refused_field(lambda: check_update(mode, update)) == f"clientRequest.{field}"


def test_storage_refresh_is_allowed_in_every_mode() -> None:
    update = UpdateClientRequest(storage_config=builders.storage())
    for mode in RecordingMode:
        check_update(mode, update)


@pytest.mark.parametrize(
    "cname",
    ["room-1", "A b", "x" * 63, "!#$%&()+-:;<=.>?@[]^_{}|~,"],
    ids=["plain", "space", "63", "symbols"],
)
def test_rtc_channel_names_within_the_rules_are_accepted(cname: str) -> None:
    assert channel_name_problem(cname, M) is None


@pytest.mark.parametrize(
    "cname",
    ["", "x" * 64, "room/1", "röom", "tab\there", "quote'"],
    ids=["empty", "64", "slash", "umlaut", "tab", "quote"],
)
def test_rtc_channel_names_outside_the_rules_are_refused(cname: str) -> None:
    assert channel_name_problem(cname, IND) is not None


def test_web_mode_accepts_any_printable_label_up_to_1024_bytes() -> None:
    assert channel_name_problem("https://example.com/page?x=1 " + "ü" * 400, W) is None


def test_web_mode_refuses_a_label_over_1024_bytes() -> None:
    assert channel_name_problem("ü" * 513, W) is not None


@pytest.mark.parametrize("uid", ["1", "4294967295", 42])
def test_uids_in_range_become_decimal_strings(uid: str | int) -> None:
    assert check_uid(uid) == str(uid)


@pytest.mark.parametrize("uid", ["0", "4294967296", "-1", "01", "1.0", " 1", "abc", "١٢", True])
def test_uids_out_of_range_or_not_canonical_are_refused(uid: str | int) -> None:
    with pytest.raises(ValueError, match=r"uid|decimal|must be"):
        check_uid(uid)
