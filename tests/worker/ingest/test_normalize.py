"""Normalization of NCS bodies and app events: captured payloads, edge cases, Hypothesis."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import hypothesis
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.events import (
    NO_UID,
    ChannelEvent,
    ChannelEventKind,
    EventSource,
    IgnoredEvent,
    IgnoreReason,
    RecordedFile,
    RecordingEvent,
    RecordingEventType,
    Role,
    UnknownEvent,
)
from worker.ingest.normalize import (
    NormalizeError,
    UidRange,
    normalize_app_event,
    normalize_entry,
    normalize_ncs,
)

NCS = Path(__file__).resolve().parents[2] / "data" / "ncs"
RECORDERS = UidRange(4_200_000_000, 4_294_967_294)


def body(path: str) -> bytes:
    return (NCS / path).read_bytes()


def ncs(raw: bytes | dict[str, object]) -> object:
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    return normalize_ncs(data, recorder_uids=RECORDERS, fallback_id="1-0")


def app(event: dict[str, object], *, received_ms: int = 1_700_000_000_999) -> object:
    return normalize_app_event(
        orjson.dumps(event), recorder_uids=RECORDERS, fallback_id="1-0", received_ms=received_ms
    )


def rtc_payload(path: str) -> dict[str, object]:
    payload: dict[str, object] = json.loads(body(path))["payload"]
    return payload


def with_payload(path: str, **changes: object) -> dict[str, object]:
    envelope: dict[str, object] = json.loads(body(path))
    payload = dict(rtc_payload(path))
    payload.update(changes)
    envelope["payload"] = {k: v for k, v in payload.items() if v is not None}
    return envelope


# --- NCS productId 1 -------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(p.name for p in (NCS / "console").iterdir()))
def test_console_test_channel_events_are_ignored(path: str) -> None:
    event = ncs(body(f"console/{path}"))
    assert event == IgnoredEvent(
        IgnoreReason.TEST_CHANNEL, json.loads(body(f"console/{path}"))["noticeId"],
        EventSource.NCS, "test_webhook",
    )  # fmt: skip


def test_a_real_user_in_a_channel_named_test_webhook_is_not_ignored() -> None:
    envelope = with_payload("console/103.json", uid=77)
    assert isinstance(ncs(envelope), ChannelEvent)


def test_channel_create_is_ignored() -> None:
    event = ncs(body("rtc/101_channel_create.json"))
    assert isinstance(event, IgnoredEvent)
    assert event.reason is IgnoreReason.CHANNEL_CREATE


def test_channel_destroy_closes_the_channel_at_its_timestamp() -> None:
    assert ncs(body("rtc/102_channel_destroy.json")) == ChannelEvent(
        channel="class-7",
        uid=NO_UID,
        kind=ChannelEventKind.CHANNEL_CLOSED,
        role=None,
        order=1_560_399_999_000,
        ts_ms=1_560_399_999_000,
        is_recorder=False,
        event_id="2000001428:5000:102",
        source=EventSource.NCS,
    )


@pytest.mark.parametrize(
    ("path", "kind", "role"),
    [
        ("rtc/103_broadcaster_join.json", ChannelEventKind.JOIN, Role.HOST),
        ("rtc/104_broadcaster_leave.json", ChannelEventKind.LEAVE, Role.HOST),
        ("rtc/105_audience_join.json", ChannelEventKind.JOIN, Role.AUDIENCE),
        ("rtc/106_audience_leave.json", ChannelEventKind.LEAVE, Role.AUDIENCE),
        ("rtc/107_communication_join.json", ChannelEventKind.JOIN, Role.COMMUNICATION),
        ("rtc/108_communication_leave.json", ChannelEventKind.LEAVE, Role.COMMUNICATION),
        ("rtc/111_role_to_broadcaster.json", ChannelEventKind.ROLE_HOST, Role.HOST),
        ("rtc/112_role_to_audience.json", ChannelEventKind.ROLE_AUDIENCE, Role.AUDIENCE),
    ],
)
def test_user_events_map_to_kind_and_role_ordered_by_client_seq(
    path: str, kind: ChannelEventKind, role: Role
) -> None:
    payload = rtc_payload(path)
    event = ncs(body(path))
    assert isinstance(event, ChannelEvent)
    assert (event.channel, event.uid, event.kind, event.role) == ("class-7", 1001, kind, role)
    assert event.order == payload["clientSeq"]
    assert event.ts_ms == int(str(payload["ts"])) * 1000
    assert not event.is_recorder


def test_leave_keeps_agoras_reason() -> None:
    event = ncs(with_payload("rtc/104_broadcaster_leave.json", reason=999))
    assert isinstance(event, ChannelEvent)
    assert event.reason == 999


def test_cloud_recordings_own_join_is_marked_as_recorder() -> None:
    event = ncs(body("rtc/103_recorder_join.json"))
    assert isinstance(event, ChannelEvent)
    assert event.is_recorder


def test_platform_6_without_client_type_10_is_a_user() -> None:
    event = ncs(with_payload("rtc/103_broadcaster_join.json", platform=6, clientType=3))
    assert isinstance(event, ChannelEvent)
    assert not event.is_recorder


def test_a_uid_in_the_reserved_recorder_range_is_marked_as_recorder() -> None:
    event = ncs(with_payload("rtc/111_role_to_broadcaster.json", uid=4_200_000_123))
    assert isinstance(event, ChannelEvent)
    assert event.is_recorder


def test_a_uid_sent_as_a_decimal_string_is_accepted() -> None:
    event = ncs(with_payload("rtc/103_broadcaster_join.json", uid="1001"))
    assert isinstance(event, ChannelEvent)
    assert event.uid == 1001


def test_a_timestamp_already_in_milliseconds_is_kept() -> None:
    event = ncs(with_payload("rtc/103_broadcaster_join.json", ts=1_560_396_843_123))
    assert isinstance(event, ChannelEvent)
    assert event.ts_ms == 1_560_396_843_123


def test_a_client_seq_beyond_a_double_keeps_every_digit() -> None:
    event = ncs(with_payload("rtc/103_broadcaster_join.json", clientSeq=2**64 - 1))
    assert isinstance(event, ChannelEvent)
    assert event.order == 18_446_744_073_709_551_615


def test_a_user_event_without_client_seq_is_malformed() -> None:
    with pytest.raises(NormalizeError, match="clientSeq"):
        ncs(with_payload("rtc/103_broadcaster_join.json", clientSeq=None))


def test_a_boolean_is_not_an_integer() -> None:
    with pytest.raises(NormalizeError, match="uid"):
        ncs(with_payload("rtc/103_broadcaster_join.json", uid=True))


def test_an_undocumented_rtc_event_type_is_unknown() -> None:
    envelope = json.loads(body("rtc/103_broadcaster_join.json"))
    envelope["eventType"] = 109
    assert ncs(envelope) == UnknownEvent(
        "1", "109", "2000001428:5000:103", EventSource.NCS, "class-7"
    )


def test_another_product_is_unknown() -> None:
    envelope = {"noticeId": "n1", "productId": 5, "eventType": 1, "payload": {}}
    assert ncs(envelope) == UnknownEvent("5", "1", "n1", EventSource.NCS)


def test_a_body_without_notice_id_takes_the_entry_id() -> None:
    envelope = json.loads(body("rtc/103_broadcaster_join.json"))
    del envelope["noticeId"]
    event = ncs(envelope)
    assert isinstance(event, ChannelEvent)
    assert event.event_id == "1-0"


def test_a_channel_name_of_64_bytes_is_refused() -> None:
    with pytest.raises(NormalizeError, match="channelName"):
        ncs(with_payload("rtc/103_broadcaster_join.json", channelName="é" * 32))


def test_a_channel_name_with_control_characters_is_refused() -> None:
    with pytest.raises(NormalizeError, match="channelName"):
        ncs(with_payload("rtc/103_broadcaster_join.json", channelName="room\n1"))


def test_errors_name_the_field_but_never_echo_its_value() -> None:
    secret = "sk_live_" + "x" * 80
    with pytest.raises(NormalizeError) as info:
        ncs(with_payload("rtc/103_broadcaster_join.json", channelName=secret))
    assert secret not in str(info.value)
    assert info.value.field == "channelName"


# --- NCS productId 3 -------------------------------------------------------------------------


def recording(path: str) -> RecordingEvent:
    event = ncs(body(f"recording/{path}.json"))
    assert isinstance(event, RecordingEvent)
    return event


def test_recording_event_carries_the_common_payload_fields() -> None:
    event = recording("41_recorder_leave")
    assert (event.channel, event.uid, event.sid) == (
        "class-7",
        4_200_000_001,
        "38f8e3cfdc474cd56fc1ceba380d7e1a",
    )
    assert (event.event_type, event.sequence, event.sendts_ms) == (
        RecordingEventType.RECORDER_LEAVE,
        7,
        1_611_566_412_000,
    )
    assert (event.service_type, event.msg_name) == (1, "recorder_leave")
    assert event.details.leave_code == 4


def test_session_exit_carries_its_exit_status() -> None:
    assert recording("11_session_exit").details.exit_status == 0


def test_session_failover_carries_the_new_uid() -> None:
    assert recording("12_session_failover").details.new_uid == 3_735_928_559


def test_recorder_started_carries_its_status() -> None:
    event = recording("40_recorder_started")
    assert event.event_type is RecordingEventType.RECORDER_STARTED
    assert event.details.status == 0


def test_uploaded_individual_lists_each_track_file() -> None:
    files = recording("31_uploaded_individual").details.file_list
    assert files == (
        RecordedFile("xxx.m3u8", "audio", 57297, False, True, 1_619_172_871_089),
        RecordedFile("xxx.m3u8", "audio", 10230, False, True, 1_619_172_871_099),
    )


def test_uploaded_mix_lists_the_mixed_file_with_uid_0() -> None:
    (file,) = recording("31_uploaded_mix").details.file_list
    assert (file.uid, file.mixed_all_user, file.track_type) == (0, True, "audio_and_video")


def test_uploaded_in_web_mode_has_a_status_and_no_files() -> None:
    details = recording("31_uploaded_web").details
    assert (details.status, details.file_list) == (0, ())


def test_status_update_file_list_is_a_single_m3u8_name() -> None:
    details = recording("3_status_update").details
    assert details.file_list == (RecordedFile("38f8e3cfdc474cd56fc1ceba380d7e1a_class-7.m3u8"),)
    assert (details.status, details.recording_mode) == (5, 1)


def test_web_recorder_stopped_reads_lowercase_filename() -> None:
    details = recording("71_web_recorder_stopped").details
    assert [f.file_name for f in details.file_list] == [
        "test_p1627613634_www.m3u8",
        "test_p1627613634_www_0.mp4",
    ]
    assert (details.code, details.message) == (1, "max_recording_hour")


def test_cloud_recording_error_carries_code_and_message() -> None:
    details = recording("1_cloud_recording_error").details
    assert (details.error_code, details.error_level, details.module) == (50, 3, 0)
    assert details.error_msg == "upload failed"


def test_a_detail_of_an_unexpected_type_is_none_not_an_error() -> None:
    envelope = json.loads(body("recording/41_recorder_leave.json"))
    envelope["payload"]["details"]["leaveCode"] = {"nested": True}
    event = ncs(envelope)
    assert isinstance(event, RecordingEvent)
    assert event.details.leave_code is None


def test_a_recording_event_without_sid_is_malformed() -> None:
    envelope = json.loads(body("recording/40_recorder_started.json"))
    del envelope["payload"]["sid"]
    with pytest.raises(NormalizeError, match="sid"):
        ncs(envelope)


def test_an_undocumented_recording_event_type_is_unknown() -> None:
    envelope = json.loads(body("recording/40_recorder_started.json"))
    envelope["eventType"] = 13
    event = ncs(envelope)
    assert isinstance(event, UnknownEvent)
    assert (event.product, event.event_type, event.channel) == ("3", "13", "class-7")


def test_recording_events_of_the_console_test_channel_are_ignored() -> None:
    envelope = json.loads(body("recording/40_recorder_started.json"))
    envelope["payload"]["cname"] = "test_webhook"
    event = ncs(envelope)
    assert isinstance(event, IgnoredEvent)
    assert event.reason is IgnoreReason.TEST_CHANNEL


# --- app events ------------------------------------------------------------------------------

JOIN = {
    "id": "evt-1",
    "type": "user.joined",
    "channel": "room-1",
    "uid": 42,
    "ts_ms": 1_700_000_000_000,
}


def test_app_join_defaults_to_host_and_orders_by_seq() -> None:
    assert app({**JOIN, "seq": 7}) == ChannelEvent(
        channel="room-1",
        uid=42,
        kind=ChannelEventKind.JOIN,
        role=Role.HOST,
        order=7,
        ts_ms=1_700_000_000_000,
        is_recorder=False,
        event_id="evt-1",
        source=EventSource.APP,
    )


def test_app_event_without_seq_is_ordered_by_ts_ms() -> None:
    event = app(JOIN)
    assert isinstance(event, ChannelEvent)
    assert event.order == 1_700_000_000_000


def test_app_event_without_ts_ms_takes_the_receive_time() -> None:
    event = app({k: v for k, v in JOIN.items() if k != "ts_ms"}, received_ms=1_700_000_000_555)
    assert isinstance(event, ChannelEvent)
    assert (event.ts_ms, event.order) == (1_700_000_000_555, 1_700_000_000_555)


def test_app_audience_join_has_the_audience_role() -> None:
    event = app({**JOIN, "role": "audience"})
    assert isinstance(event, ChannelEvent)
    assert event.role is Role.AUDIENCE


def test_app_leave_is_a_leave() -> None:
    event = app({**JOIN, "type": "user.left", "seq": 8})
    assert isinstance(event, ChannelEvent)
    assert (event.kind, event.order) == (ChannelEventKind.LEAVE, 8)


def test_app_channel_closed_needs_no_uid() -> None:
    event = app({"id": "e", "type": "channel.closed", "channel": "room-1", "ts_ms": 5})
    assert isinstance(event, ChannelEvent)
    assert (event.kind, event.uid, event.role, event.order) == (
        ChannelEventKind.CHANNEL_CLOSED,
        NO_UID,
        None,
        5,
    )


def test_app_channel_closed_is_ordered_by_its_time_even_with_a_seq() -> None:
    event = app({"id": "e", "type": "channel.closed", "channel": "room-1", "ts_ms": 5, "seq": 9})
    assert isinstance(event, ChannelEvent)
    assert (event.order, event.ts_ms) == (5, 5)


def test_app_event_of_a_recorder_uid_is_marked_as_recorder() -> None:
    event = app({**JOIN, "uid": 4_200_000_000})
    assert isinstance(event, ChannelEvent)
    assert event.is_recorder


def test_an_unknown_app_event_type_is_kept_as_unknown() -> None:
    assert app({"id": "e9", "type": "user.muted"}) == UnknownEvent(
        "app", "user.muted", "e9", EventSource.APP
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "broadcaster"}, "role"),
        ({"uid": None}, "uid"),
        ({"uid": 0}, "uid"),
        ({"uid": 2**32}, "uid"),
        ({"channel": ""}, "channel"),
        ({"seq": -1}, "seq"),
        ({"ts_ms": 1.5}, "ts_ms"),
        ({"type": 3}, "type"),
    ],
)
def test_a_bad_app_event_field_is_named_in_the_error(change: dict[str, object], field: str) -> None:
    event = {k: v for k, v in {**JOIN, **change}.items() if v is not None}
    with pytest.raises(NormalizeError) as info:
        app(event)
    assert info.value.field == field


# --- stream entries --------------------------------------------------------------------------


def test_an_entry_with_an_ncs_field_is_an_ncs_event() -> None:
    event = normalize_entry(
        "1700000000000-0", {b"ncs": body("rtc/103_broadcaster_join.json")}, recorder_uids=RECORDERS
    )
    assert isinstance(event, ChannelEvent)
    assert event.source is EventSource.NCS


def test_an_entry_app_event_takes_rx_ms_and_entry_id_as_defaults() -> None:
    fields = {"event": '{"type":"user.joined","channel":"c","uid":1}', "rx_ms": "1700000000123"}
    event = normalize_entry("1700000000999-0", fields, recorder_uids=RECORDERS)
    assert isinstance(event, ChannelEvent)
    assert (event.ts_ms, event.event_id) == (1_700_000_000_123, "1700000000999-0")


def test_an_entry_app_event_without_rx_ms_takes_the_entry_time() -> None:
    fields = {b"event": b'{"type":"user.joined","channel":"c","uid":1}'}
    event = normalize_entry("1700000000999-3", fields, recorder_uids=RECORDERS)
    assert isinstance(event, ChannelEvent)
    assert event.ts_ms == 1_700_000_000_999


def test_an_entry_with_neither_field_is_malformed() -> None:
    with pytest.raises(NormalizeError, match="neither"):
        normalize_entry("1-0", {b"src": b"agora"}, recorder_uids=RECORDERS)


def test_an_entry_with_both_fields_is_malformed() -> None:
    with pytest.raises(NormalizeError, match="both"):
        normalize_entry("1-0", {b"ncs": b"{}", b"event": b"{}"}, recorder_uids=RECORDERS)


# --- never anything but NormalizeError -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
field_values = (
    json_values
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(["", "0", "42", "12121212", "test_webhook", "x" * 70, "1" * 40])
)
PAYLOAD_KEYS = [
    "channelName", "uid", "platform", "clientType", "clientSeq", "ts", "reason", "cname",
    "sid", "sequence", "sendts", "serviceType", "details",
]  # fmt: skip
DETAIL_KEYS = ["msgName", "leaveCode", "exitStatus", "newUid", "fileList", "status", "code"]
APP_KEYS = ["id", "type", "channel", "uid", "role", "ts_ms", "seq"]
TEMPLATES = [json.loads(path.read_bytes()) for path in sorted(NCS.rglob("*.json"))]
APP_TEMPLATES = [
    {**JOIN, "seq": 3},
    {**JOIN, "type": "user.left", "role": "audience"},
    {"id": "e", "type": "channel.closed", "channel": "room-1", "ts_ms": 5},
]


def mutate(
    draw: st.DrawFn, obj: dict[str, object], names: list[str], *, max_changes: int = 3
) -> None:
    """Delete or replace a few of `obj`'s fields with arbitrary JSON values."""
    for name in draw(st.lists(st.sampled_from(names), max_size=max_changes)):
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(field_values)


@st.composite
def ncs_mutants(draw: st.DrawFn) -> dict[str, object]:
    """A captured NCS body with a few envelope, payload or details fields broken."""
    envelope = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    mutate(draw, envelope, ["noticeId", "productId", "eventType", "payload"], max_changes=1)
    payload = envelope.get("payload")
    if isinstance(payload, dict):
        mutate(draw, payload, PAYLOAD_KEYS)
        details = payload.get("details")
        if isinstance(details, dict):
            mutate(draw, details, DETAIL_KEYS)
    return envelope


@st.composite
def app_mutants(draw: st.DrawFn) -> dict[str, object]:
    """A valid app event with a few fields deleted or replaced."""
    event = dict(draw(st.sampled_from(APP_TEMPLATES)))
    mutate(draw, event, APP_KEYS)
    return event


def dumps(value: object) -> bytes:
    """JSON text with Python's encoder, which also writes integers beyond 64 bits."""
    return json.dumps(value).encode()


def only_normalize_errors(fields: dict[bytes, bytes]) -> None:
    """Normalize; a NormalizeError is fine, any other exception fails the test."""
    try:
        normalized = normalize_entry("1-0", fields, recorder_uids=RECORDERS)
    except NormalizeError:
        hypothesis.event("refused")
        return
    assert isinstance(normalized, ChannelEvent | RecordingEvent | UnknownEvent | IgnoredEvent)
    hypothesis.event(type(normalized).__name__)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"ncs", b"event"]))
def test_arbitrary_bytes_raise_nothing_but_normalize_error(data: bytes, name: bytes) -> None:
    only_normalize_errors({name: data})


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([b"ncs", b"event"]))
def test_arbitrary_json_raises_nothing_but_normalize_error(value: object, name: bytes) -> None:
    only_normalize_errors({name: dumps(value)})


@settings(max_examples=500, deadline=None)
@given(ncs_mutants())
def test_almost_valid_ncs_bodies_raise_nothing_but_normalize_error(envelope: object) -> None:
    only_normalize_errors({b"ncs": dumps(envelope)})


@settings(max_examples=500, deadline=None)
@given(app_mutants(), st.binary(max_size=20))
def test_almost_valid_app_events_raise_nothing_but_normalize_error(
    event: object, rx_ms: bytes
) -> None:
    only_normalize_errors({b"event": dumps(event), b"rx_ms": rx_ms})
