"""Path and query parameters: Agora's channel-name rule, `wait_s`, `limit`, `cursor`, times."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from webhooks.api import params
from webhooks.api.errors import ApiError

ALLOWED = "abcXYZ019 !#$%&()+-:;<=.>?@[]^_{}|~,"


def request(**query: str) -> Request:
    return Request({"type": "http", "query_string": urlencode(query).encode(), "headers": []})


@pytest.mark.parametrize("name", ["room-1", "a", "x" * 63, ALLOWED, "Class 7B (math)"])
def test_an_agora_channel_name_is_accepted(name: str) -> None:
    assert params.check_channel(name) == name


@pytest.mark.parametrize(
    "name", ["", "x" * 64, "a/b", "naïve", "tab\there", "line\n", "a'b", 'a"b']
)
def test_a_name_agora_refuses_answers_400_naming_the_channel(name: str) -> None:
    with pytest.raises(ApiError) as caught:
        params.check_channel(name)

    assert (caught.value.status, caught.value.field) == (400, "channel")


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=63))
def test_every_name_of_the_allowed_characters_is_accepted(name: str) -> None:
    assert params.channel_problem(name) is None


@pytest.mark.parametrize(("raw", "value"), [(None, 0.0), ("0", 0.0), ("2.5", 2.5), ("30", 30.0)])
def test_wait_s_is_a_number_of_seconds_up_to_30(raw: str | None, value: float) -> None:
    query = {} if raw is None else {"wait_s": raw}
    assert params.wait_s(request(**query)) == value


@pytest.mark.parametrize("raw", ["30.5", "-1", "nan", "inf", "soon"])
def test_a_bad_wait_s_answers_400_naming_it(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        params.wait_s(request(wait_s=raw))

    assert (caught.value.status, caught.value.field) == (400, "wait_s")


@pytest.mark.parametrize(("raw", "value"), [(None, 50), ("1", 1), ("500", 500)])
def test_limit_is_1_to_500(raw: str | None, value: int) -> None:
    query = {} if raw is None else {"limit": raw}
    assert params.limit(request(**query)) == value


@pytest.mark.parametrize("raw", ["0", "501", "-3", "ten", "1.0"])
def test_a_bad_limit_answers_400_naming_it(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        params.limit(request(limit=raw))

    assert (caught.value.status, caught.value.field) == (400, "limit")


def test_a_cursor_is_passed_on_as_given() -> None:
    assert params.cursor(request(cursor="room-9|1700000000000")) == "room-9|1700000000000"
    assert params.cursor(request()) is None


def test_an_overlong_cursor_answers_400_naming_it() -> None:
    with pytest.raises(ApiError) as caught:
        params.cursor(request(cursor="x" * 513))

    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    "raw",
    ["2025-01-31T13:00:00+01:00", "2025-01-31T12:00:00Z", "2025-01-31t12:00:00z",
     "2025-01-31 12:00:00.000Z", "2025-01-31T13:00:00 01:00"],
)  # fmt: skip
def test_since_and_until_are_rfc3339_times_in_utc(raw: str) -> None:
    expected = datetime(2025, 1, 31, 12, tzinfo=UTC)

    assert params.since(request(since=raw)) == expected
    assert params.until(request(until=raw)) == expected


@pytest.mark.parametrize(
    "raw", ["2025-01-31", "2025-01-31T12:00:00", "1738324800", "2025-13-01T00:00:00Z"]
)
def test_a_time_without_zone_or_not_rfc3339_answers_400_naming_it(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        params.since(request(since=raw))

    assert (caught.value.status, caught.value.field) == (400, "since")
