"""Pure normalization: stream entries (raw Agora NCS bodies or app events) → typed events.

No I/O. Any input, however broken, either normalizes or raises NormalizeError (a ValueError
that names the offending field); an event type we do not handle becomes an UnknownEvent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from worker import keys
from worker.events import (
    NO_UID,
    ChannelEvent,
    ChannelEventKind,
    EventSource,
    IgnoredEvent,
    IgnoreReason,
    NormalizedEvent,
    Role,
    UnknownEvent,
)
from worker.ingest.normalize_fields import (
    TS_MS_MAX,
    UID_MAX,
    NormalizeError,
    UidRange,
    describe,
    load_object,
    read_channel,
    read_event_id,
    read_int,
    read_optional_int,
    read_str,
)
from worker.ingest.normalize_recording import PRODUCT_RECORDING, TEST_CHANNEL, normalize_recording

__all__ = [
    "NormalizeError",
    "UidRange",
    "normalize_app_event",
    "normalize_entry",
    "normalize_ncs",
]

#: The NCS console's health-check events use channel `test_webhook` and this uid.
TEST_UID: Final = 12121212
#: NCS `ts` is Unix seconds; a value this large can only be milliseconds.
_TS_S_LIMIT: Final = 10**11

PRODUCT_RTC: Final = 1
_CHANNEL_CREATE: Final = 101
_CHANNEL_DESTROY: Final = 102
_RTC_EVENTS: Final[Mapping[int, tuple[ChannelEventKind, Role]]] = {
    103: (ChannelEventKind.JOIN, Role.HOST),
    104: (ChannelEventKind.LEAVE, Role.HOST),
    105: (ChannelEventKind.JOIN, Role.AUDIENCE),
    106: (ChannelEventKind.LEAVE, Role.AUDIENCE),
    107: (ChannelEventKind.JOIN, Role.COMMUNICATION),
    108: (ChannelEventKind.LEAVE, Role.COMMUNICATION),
    111: (ChannelEventKind.ROLE_HOST, Role.HOST),
    112: (ChannelEventKind.ROLE_AUDIENCE, Role.AUDIENCE),
}
#: Cloud Recording's own uid shows up in RTC events as platform 6 (Linux) + clientType 10.
_RECORDER_PLATFORM: Final = 6
_RECORDER_CLIENT_TYPE: Final = 10

APP_USER_JOINED: Final = "user.joined"
APP_USER_LEFT: Final = "user.left"
APP_CHANNEL_CLOSED: Final = "channel.closed"
_APP_ROLES: Final[Mapping[str, Role]] = {"host": Role.HOST, "audience": Role.AUDIENCE}


def _ts_ms_from_seconds(obj: Mapping[str, object], name: str) -> int:
    """NCS `ts` (Unix seconds) in ms; a value that is already milliseconds is kept."""
    ts = read_int(obj, name, hi=TS_MS_MAX)
    return ts if ts >= _TS_S_LIMIT else ts * 1000


# --- NCS ---------------------------------------------------------------------------------


def normalize_ncs(
    body: bytes | str, *, recorder_uids: UidRange, fallback_id: str
) -> NormalizedEvent:
    """Normalize one raw Agora NCS body (design §2: the webhook stores it verbatim)."""
    envelope = load_object(body, "NCS body")
    event_id = read_event_id(envelope, "noticeId", fallback_id)
    product_id = read_int(envelope, "productId", hi=2**31)
    event_type = read_int(envelope, "eventType", hi=2**31)
    if product_id not in (PRODUCT_RTC, PRODUCT_RECORDING):
        return UnknownEvent(str(product_id), str(event_type), event_id, EventSource.NCS)
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise NormalizeError(f"must be an object, got {describe(payload)}", field="payload")
    if product_id == PRODUCT_RECORDING:
        return normalize_recording(event_type, payload, event_id=event_id)
    return _normalize_rtc(event_type, payload, event_id=event_id, recorder_uids=recorder_uids)


def _normalize_rtc(
    event_type: int, payload: Mapping[str, object], *, event_id: str, recorder_uids: UidRange
) -> NormalizedEvent:
    known = _RTC_EVENTS.get(event_type)
    if known is None and event_type not in (_CHANNEL_CREATE, _CHANNEL_DESTROY):
        channel = payload.get("channelName")
        return UnknownEvent(
            str(PRODUCT_RTC),
            str(event_type),
            event_id,
            EventSource.NCS,
            channel if isinstance(channel, str) else None,
        )
    channel = read_channel(payload, "channelName")
    uid = None if known is None else read_int(payload, "uid", lo=1, hi=UID_MAX, digits=True)
    if channel == TEST_CHANNEL and uid in (None, TEST_UID):
        return IgnoredEvent(IgnoreReason.TEST_CHANNEL, event_id, EventSource.NCS, channel)
    if event_type == _CHANNEL_CREATE:
        return IgnoredEvent(IgnoreReason.CHANNEL_CREATE, event_id, EventSource.NCS, channel)
    ts_ms = _ts_ms_from_seconds(payload, "ts")
    if known is None or uid is None:  # 102 channel destroy
        return ChannelEvent(
            channel=channel,
            uid=NO_UID,
            kind=ChannelEventKind.CHANNEL_CLOSED,
            role=None,
            order=ts_ms,
            ts_ms=ts_ms,
            is_recorder=False,
            event_id=event_id,
            source=EventSource.NCS,
        )
    kind, role = known
    platform = read_optional_int(payload, "platform", hi=2**31)
    client_type = read_optional_int(payload, "clientType", hi=2**31)
    is_recorder = uid in recorder_uids or (
        platform == _RECORDER_PLATFORM and client_type == _RECORDER_CLIENT_TYPE
    )
    reason = (
        read_optional_int(payload, "reason", hi=2**31) if kind is ChannelEventKind.LEAVE else None
    )
    return ChannelEvent(
        channel=channel,
        uid=uid,
        kind=kind,
        role=role,
        order=read_int(payload, "clientSeq"),
        ts_ms=ts_ms,
        is_recorder=is_recorder,
        event_id=event_id,
        source=EventSource.NCS,
        reason=reason,
    )


# --- app events --------------------------------------------------------------------------


def normalize_app_event(
    body: bytes | str, *, recorder_uids: UidRange, fallback_id: str, received_ms: int
) -> NormalizedEvent:
    """Normalize one app event (design §4); `ts_ms` defaults to `received_ms`."""
    event = load_object(body, "app event")
    event_type = read_str(event, "type", max_chars=64)
    event_id = read_event_id(event, "id", fallback_id)
    if event_type not in (APP_USER_JOINED, APP_USER_LEFT, APP_CHANNEL_CLOSED):
        return UnknownEvent("app", event_type, event_id, EventSource.APP)
    channel = read_channel(event, "channel")
    ts_ms = received_ms if event.get("ts_ms") is None else read_int(event, "ts_ms", hi=TS_MS_MAX)
    seq = read_optional_int(event, "seq")
    if event_type == APP_CHANNEL_CLOSED:
        return ChannelEvent(
            channel=channel,
            uid=NO_UID,
            kind=ChannelEventKind.CHANNEL_CLOSED,
            role=None,
            order=ts_ms,
            ts_ms=ts_ms,
            is_recorder=False,
            event_id=event_id,
            source=EventSource.APP,
        )
    uid = read_int(event, "uid", lo=1, hi=UID_MAX, digits=True)
    role_name = event.get("role", "host")
    role = _APP_ROLES.get(role_name) if isinstance(role_name, str) else None
    if role is None:
        raise NormalizeError("must be 'host' or 'audience'", field="role")
    return ChannelEvent(
        channel=channel,
        uid=uid,
        kind=ChannelEventKind.JOIN if event_type == APP_USER_JOINED else ChannelEventKind.LEAVE,
        role=role,
        order=ts_ms if seq is None else seq,
        ts_ms=ts_ms,
        is_recorder=uid in recorder_uids,
        event_id=event_id,
        source=EventSource.APP,
    )


# --- stream entries ----------------------------------------------------------------------


def _small_int(text: bytes | str | None) -> int | None:
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if text is None or not (text.isascii() and text.isdigit() and len(text) < 16):
        return None
    return int(text)


def entry_ms(entry_id: str) -> int:
    """The millisecond part of a stream entry id (`1700000000000-0` → 1700000000000)."""
    return _small_int(entry_id.partition("-")[0]) or 0


def normalize_entry(
    entry_id: str,
    fields: Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str],
    *,
    recorder_uids: UidRange,
) -> NormalizedEvent:
    """Normalize one events-stream entry: field `ncs` (raw NCS body) or `event` (app event).

    The entry id stands in for a missing event id; `rx_ms` (else the entry id's time) for a
    missing app `ts_ms`.
    """
    named: dict[str, bytes | str] = {}
    for key, value in fields.items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        named[name] = value
    ncs = named.get(keys.FIELD_NCS)
    app = named.get(keys.FIELD_EVENT)
    if ncs is not None and app is not None:
        raise NormalizeError(f"has both `{keys.FIELD_NCS}` and `{keys.FIELD_EVENT}`", field="entry")
    if ncs is not None:
        return normalize_ncs(ncs, recorder_uids=recorder_uids, fallback_id=entry_id)
    if app is not None:
        received_ms = _small_int(named.get(keys.FIELD_RECEIVED_MS)) or entry_ms(entry_id)
        return normalize_app_event(
            app, recorder_uids=recorder_uids, fallback_id=entry_id, received_ms=received_ms
        )
    raise NormalizeError(f"has neither `{keys.FIELD_NCS}` nor `{keys.FIELD_EVENT}`", field="entry")
