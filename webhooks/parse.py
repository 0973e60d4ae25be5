"""Parsing of verified webhook bodies: what the edge needs to deduplicate, and for app
events the full schema check.

An app event is checked against the event schema (design §4) with the worker's own pure
normalization, so a body the worker could never apply (an unknown `type`, a missing `uid`,
a bad channel name) is answered 400 with the reason instead of being accepted and
dead-lettered later. NCS bodies need only their `noticeId`: Agora adds event types, and the
worker counts the ones it does not know.
"""

from __future__ import annotations

from typing import Final

import orjson

from webhooks.errors import MalformedBody
from worker.events import UnknownEvent
from worker.ingest.normalize import normalize_app_event
from worker.ingest.normalize_fields import NormalizeError, UidRange

#: Only for the check: which uids are recorders does not decide whether an event is valid.
_ANY_RECORDER: Final = UidRange(0, 0)


def _json_object(body: bytes) -> dict[str, object]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBody("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody("body is not a JSON object")
    return data


def ncs_notice_id(body: bytes) -> str:
    """The `noticeId` of an Agora NCS body; MalformedBody if absent or not a string."""
    notice_id = _json_object(body).get("noticeId")
    if not isinstance(notice_id, str) or not notice_id:
        raise MalformedBody("noticeId must be a non-empty string")
    return notice_id


def check_app_event(body: bytes) -> None:
    """Check an app event body against the event schema; MalformedBody naming the field if
    it breaks it (an unknown `type` included)."""
    data = _json_object(body)
    for field in ("id", "type"):
        value = data.get(field)
        if not isinstance(value, str) or not value:
            raise MalformedBody(f"{field} must be a non-empty string")
    try:
        event = normalize_app_event(
            body, recorder_uids=_ANY_RECORDER, fallback_id="-", received_ms=0
        )
    except NormalizeError as exc:
        raise MalformedBody(str(exc)) from None
    if isinstance(event, UnknownEvent):
        raise MalformedBody("type: must be one of user.joined, user.left, channel.closed")
