"""Every documented Agora answer (agora-facts §3) lands in the class the design expects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.agora.classify import Endpoint, ErrorClass, classify

E = Endpoint
C = ErrorClass
TASK_ENDPOINTS = (E.QUERY, E.UPDATE, E.UPDATE_LAYOUT)

# (endpoint, HTTP status, code, reason/message, expected class) — the current per-endpoint
# table (§3.1), the gateway answers (§1.3 to §1.5) and the legacy numeric list (§3.2).
DOCUMENTED = [
    # gateway answers, any endpoint
    (E.ACQUIRE, 400, None, "appid is invalid", C.AUTH),
    (E.START, 401, None, "Unauthorized", C.AUTH),
    (E.STOP, 401, None, "Invalid authentication credentials", C.AUTH),
    (E.QUERY, 404, None, "no Route matched with those values", C.INVALID),
    (E.ACQUIRE, 429, None, "API rate limit exceeded", C.RATE_LIMITED),
    (E.STOP, 429, None, "API rate limit exceeded", C.RATE_LIMITED),
    # acquire
    (E.ACQUIRE, 400, 2, "Acquire: invalid resourceExpiredHour value!", C.INVALID),
    (E.ACQUIRE, 400, 400, "invalid_appid", C.AUTH),
    (E.ACQUIRE, 400, 401, "invalid_channel_name", C.INVALID),
    (E.ACQUIRE, 400, 405, "no_active_status", C.AUTH),
    (E.ACQUIRE, 400, 406, "vendor_over_load", C.NO_CAPACITY),
    (E.ACQUIRE, 500, 500, "internal_error", C.RETRYABLE),
    (E.ACQUIRE, 500, 501, "no_worker_manager_available", C.RETRYABLE),
    (E.ACQUIRE, 500, 504, "allocate_timeout", C.RETRYABLE),
    # start
    (E.START, 201, 7, "already started", C.ALREADY_STARTED),
    (E.START, 206, 65, "request not completed", C.RETRYABLE),
    (E.START, 400, 2, "invalid parameter", C.INVALID),
    (E.START, 400, 53, "task conflict", C.CONFLICT),
    (E.START, 500, 502, "Failed to allocate worker", C.NO_CAPACITY),
    (E.START, 500, 62, "request timeout", C.RETRYABLE),
    (E.START, 500, 15, None, C.RETRYABLE),  # seen in the wild, undocumented
    # query / update / updateLayout
    *[(ep, 206, 65, "request not completed", C.RETRYABLE) for ep in TASK_ENDPOINTS],
    *[(ep, 400, 2, "invalid parameter", C.INVALID) for ep in TASK_ENDPOINTS],
    *[(ep, 404, 404, "failed to find worker", C.NOT_FOUND) for ep in TASK_ENDPOINTS],
    *[(ep, 504, 62, "request timeout", C.RETRYABLE) for ep in TASK_ENDPOINTS],
    # stop
    (E.STOP, 206, 65, "request not completed", C.RETRYABLE),
    (E.STOP, 206, 435, "no recorded data", C.ALREADY_STOPPED),
    (E.STOP, 400, 2, "invalid parameter", C.INVALID),
    (E.STOP, 400, 49, "invalid operation", C.ALREADY_STOPPED),
    (E.STOP, 404, 404, "failed to find worker", C.ALREADY_STOPPED),
    (E.STOP, 504, 62, "request timeout", C.RETRYABLE),
    # legacy numeric codes
    (E.START, 400, 8, "invalid http header", C.INVALID),
    (E.ACQUIRE, 400, 62, "cloud recording not enabled", C.AUTH),
    (E.START, 400, 109, "token expired", C.INVALID),
    (E.START, 400, 110, "token invalid", C.INVALID),
    (E.START, 400, 432, "mismatch", C.INVALID),
    (E.START, 400, 433, "resource expired", C.INVALID),
    (E.QUERY, 400, 501, "recording service is exiting", C.NOT_FOUND),
    (E.STOP, 400, 501, "recording service is exiting", C.ALREADY_STOPPED),
    (E.START, 400, 1001, "failed to parse resource ID", C.INVALID),
    (E.QUERY, 400, 1003, "sid mismatch", C.INVALID),
    (E.ACQUIRE, 400, 1013, "invalid channel name", C.INVALID),
    (E.UPDATE_LAYOUT, 400, 1028, "invalid updateLayout body", C.INVALID),
    (E.STOP, 500, 50, "upload timeout", C.RETRYABLE),
    (E.UPDATE, 400, 49, "invalid operation", C.ALREADY_STOPPED),
    # channel management
    (E.USER_LIST, 400, None, "invalid appid", C.AUTH),
    (E.USER_LIST, 403, None, "Forbidden", C.AUTH),
    (E.USER_LIST, 404, None, "Not Found", C.INVALID),
    (E.USER_LIST, 415, None, "Unsupported Media Type", C.INVALID),
    (E.USER_LIST, 500, None, "Internal Server Error", C.RETRYABLE),
]


@pytest.mark.parametrize(
    ("endpoint", "status", "code", "message", "expected"),
    DOCUMENTED,
    ids=[f"{row[0]}-{row[1]}-{row[2]}" for row in DOCUMENTED],
)
def test_each_documented_answer_has_its_class(
    endpoint: Endpoint, status: int, code: int | None, message: str | None, expected: ErrorClass
) -> None:
    assert classify(endpoint, status, code, message) is expected


def test_a_201_outside_start_is_not_taken_as_started() -> None:
    assert classify(Endpoint.QUERY, 201, 7, "already started") is ErrorClass.INVALID


def test_a_reason_mentioning_unauthorized_does_not_override_its_code() -> None:
    assert classify(Endpoint.START, 400, 2, "storage unauthorized") is ErrorClass.INVALID


def test_an_unknown_404_is_not_mistaken_for_a_stopped_task() -> None:
    assert classify(Endpoint.STOP, 404, None, "Not Found") is ErrorClass.INVALID


def test_a_200_is_refused_as_not_an_error() -> None:
    with pytest.raises(ValueError, match="success"):
        classify(Endpoint.QUERY, 200, None, None)


def test_only_retryable_and_rate_limited_are_retryable() -> None:
    assert {c for c in ErrorClass if c.is_retryable} == {C.RETRYABLE, C.RATE_LIMITED}


@given(
    endpoint=st.sampled_from(list(Endpoint)),
    status=st.integers(min_value=500, max_value=599),
    code=st.none() | st.integers(min_value=-10, max_value=3000),
)
def test_server_errors_are_transient_unless_start_found_no_worker(
    endpoint: Endpoint, status: int, code: int | None
) -> None:
    expected = C.NO_CAPACITY if (endpoint, code) == (E.START, 502) else C.RETRYABLE
    assert classify(endpoint, status, code, None) is expected


@given(
    endpoint=st.sampled_from(list(Endpoint)),
    status=st.integers(min_value=201, max_value=599),
    code=st.none() | st.integers(),
    message=st.none() | st.text(max_size=40),
)
def test_every_non_200_answer_gets_some_class(
    endpoint: Endpoint, status: int, code: int | None, message: str | None
) -> None:
    assert isinstance(classify(endpoint, status, code, message), ErrorClass)
