"""The edge parses verified bodies only as far as it must."""

from __future__ import annotations

import pytest

from webhooks.errors import MalformedBody
from webhooks.parse import check_app_event, ncs_notice_id


def test_notice_id_is_read_from_an_ncs_body() -> None:
    body = b'{"noticeId":"2000001428:4330:107","productId":1,"eventType":101,"payload":{}}'
    assert ncs_notice_id(body) == "2000001428:4330:107"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not valid JSON"),
        (b"{noticeId:1}", "not valid JSON"),
        (b'["noticeId"]', "not a JSON object"),
        (b'"2000001428:4330:107"', "not a JSON object"),
        (b'{"productId":1}', "noticeId must be a non-empty string"),
        (b'{"noticeId":""}', "noticeId must be a non-empty string"),
        (b'{"noticeId":2000001428}', "noticeId must be a non-empty string"),
        (b'{"noticeId":null}', "noticeId must be a non-empty string"),
    ],
)
def test_ncs_body_without_a_usable_notice_id_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        ncs_notice_id(body)


def test_a_valid_app_event_passes_and_unknown_extra_keys_are_allowed() -> None:
    check_app_event(
        b'{"id":"evt-1","type":"user.joined","channel":"room-1","uid":42,"extra":[1,2,3]}'
    )
    check_app_event(b'{"id":"evt-2","type":"channel.closed","channel":"room-1"}')


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"id":"evt-1","type":"user.jumped","channel":"room-1","uid":42}', "type"),
        (b'{"id":"evt-1","type":"user.joined","channel":"room-1"}', "uid"),
        (b'{"id":"evt-1","type":"user.left","uid":42}', "channel"),
        (b'{"id":"evt-1","type":"user.joined","channel":"room-1","uid":42,"role":"x"}', "role"),
        (b'{"id":"evt-1","type":"user.joined","channel":"room\\u00001","uid":42}', "channel"),
    ],
)
def test_an_app_event_breaking_the_schema_is_malformed_naming_the_field(
    body: bytes, field: str
) -> None:
    with pytest.raises(MalformedBody) as caught:
        check_app_event(body)
    assert str(caught.value).startswith(f"{field}:")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"type":"user.joined"}', "id must be a non-empty string"),
        (b'{"id":7,"type":"user.joined"}', "id must be a non-empty string"),
        (b'{"id":"evt-1"}', "type must be a non-empty string"),
        (b'{"id":"evt-1","type":["user.joined"]}', "type must be a non-empty string"),
    ],
)
def test_app_event_without_string_id_and_type_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        check_app_event(body)
