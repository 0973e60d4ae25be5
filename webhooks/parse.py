"""Minimal parsing of verified webhook bodies: only what the edge needs to deduplicate.

The worker normalizes events fully; the edge checks just enough to reject what can never be
applied (not a JSON object, no usable id) and to find the dedupe id.
"""

from __future__ import annotations

import orjson

from webhooks.errors import MalformedBody


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
    """Check an app event body has a string `id` and `type`; MalformedBody if not."""
    data = _json_object(body)
    for field in ("id", "type"):
        value = data.get(field)
        if not isinstance(value, str) or not value:
            raise MalformedBody(f"{field} must be a non-empty string")
