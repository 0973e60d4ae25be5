"""Pure classification of Agora answers (endpoint, HTTP status, code, message) into classes.

The table follows agora-facts §3 (current per-endpoint table, legacy numeric codes, gateway
messages). Anything undocumented falls back by status: 5xx and 206 are retryable, other 4xx
are invalid requests.
"""

from __future__ import annotations

from enum import StrEnum


class Endpoint(StrEnum):
    """An Agora REST operation (names match the sandbox's call log)."""

    ACQUIRE = "acquire"
    START = "start"
    QUERY = "query"
    UPDATE = "update"
    UPDATE_LAYOUT = "updateLayout"
    STOP = "stop"
    USER_LIST = "user_list"
    CHANNEL_LIST = "channel_list"
    NCS_IP = "ncs_ip"


class ErrorClass(StrEnum):
    """What a non-200 answer means for the caller."""

    RETRYABLE = "retryable"
    """Transient (5xx, 206/65, 504/62): the same request may succeed later."""
    RATE_LIMITED = "rate_limited"
    """429: over Agora's request rate; retry after a pause (never processed)."""
    ALREADY_STARTED = "already_started"
    """start 201/7: this resource's task is already running."""
    ALREADY_STOPPED = "already_stopped"
    """The task is stopped or exiting (stop 206/435, 400/49, 404): terminal for stop."""
    NO_CAPACITY = "no_capacity"
    """No room at Agora now (acquire 406, start 502): wait and acquire again later."""
    CONFLICT = "conflict"
    """start 53: another task with this (cname, uid) is running."""
    NOT_FOUND = "not_found"
    """404 "failed to find worker" on query/update/updateLayout: gone or failing over."""
    AUTH = "auth"
    """Credentials, App ID or account refused: configuration must change."""
    INVALID = "invalid"
    """The request itself is wrong; retrying will not help."""

    @property
    def is_retryable(self) -> bool:
        """Whether repeating the identical request can succeed."""
        return self in (ErrorClass.RETRYABLE, ErrorClass.RATE_LIMITED)


_TASK_ENDPOINTS = frozenset({Endpoint.QUERY, Endpoint.UPDATE, Endpoint.UPDATE_LAYOUT})

# Codes that mean "the request is wrong" wherever they appear (agora-facts §3.1, §3.2):
# 2 invalid parameter, 8 bad header/URL/JSON, 109/110 token expired/invalid, 401
# invalid_channel_name, 432 mismatched resource, 433 resource expired, 1001 undecodable
# resourceId, 1003 appid/sid mismatch, 1013 invalid channel name, 1028 bad updateLayout body.
_INVALID_CODES = frozenset({2, 8, 109, 110, 401, 432, 433, 1001, 1003, 1013, 1028})
# 400 invalid_appid, 405 no_active_status (e.g. overdue account).
_ACCOUNT_CODES = frozenset({400, 405})

_AUTH_MESSAGES = ("unauthorized", "invalid authentication credentials", "appid is invalid")
_AUTH_MESSAGES_EXACT = ("invalid appid", "invalid_appid")


def classify(endpoint: Endpoint, status: int, code: int | None, message: str | None) -> ErrorClass:
    """Classify a non-200 Agora answer.

    `code` is the body's numeric `code` (None if absent); `message` is its `reason` or the
    gateway's `message` (None if absent). A 200 is a success and must not be classified.
    """
    if status == 200:
        raise ValueError("a 200 answer is a success, not an error to classify")
    text = (message or "").strip().lower()

    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status in (401, 403):
        return ErrorClass.AUTH
    if code is None and (any(m in text for m in _AUTH_MESSAGES) or text in _AUTH_MESSAGES_EXACT):
        return ErrorClass.AUTH  # gateway answers: {"message": "..."} without a code
    if status == 201:
        return ErrorClass.ALREADY_STARTED if endpoint is Endpoint.START else ErrorClass.INVALID
    if code is not None:
        by_code = _classify_code(endpoint, status, code)
        if by_code is not None:
            return by_code
    if status == 404:
        if "failed to find worker" in text:
            return _task_gone(endpoint)
        return ErrorClass.INVALID  # "no Route matched with those values" and the like
    if status == 206 or status >= 500:
        return ErrorClass.RETRYABLE
    return ErrorClass.INVALID


def _classify_code(endpoint: Endpoint, status: int, code: int) -> ErrorClass | None:
    """The class a documented `code` gives on this endpoint, or None to fall back on status."""
    if status >= 500:
        # Server errors are transient except start's "Failed to allocate worker" (re-acquire).
        if code == 502 and endpoint is Endpoint.START:
            return ErrorClass.NO_CAPACITY
        return ErrorClass.RETRYABLE
    if code == 7 and endpoint is Endpoint.START:
        return ErrorClass.ALREADY_STARTED
    if code in (65, 50, 62):  # not completed / upload timeout / request timeout: repeat it
        if code == 62 and endpoint is Endpoint.ACQUIRE:
            return ErrorClass.AUTH  # legacy: cloud recording not enabled for the App ID
        return ErrorClass.RETRYABLE
    if code == 435:  # no recorded data: the stop went through on an idle task
        return ErrorClass.ALREADY_STOPPED if endpoint is Endpoint.STOP else None
    if code == 49:  # invalid operation: the task is already exiting
        return ErrorClass.ALREADY_STOPPED
    if code == 404:
        return _task_gone(endpoint)
    if code == 53:
        return ErrorClass.CONFLICT
    if code == 406:
        return ErrorClass.NO_CAPACITY
    if code == 501:  # legacy: the recording service is exiting
        return _task_gone(endpoint) if endpoint is not Endpoint.ACQUIRE else ErrorClass.RETRYABLE
    if code in _ACCOUNT_CODES:
        return ErrorClass.AUTH
    if code in _INVALID_CODES:
        return ErrorClass.INVALID
    return None


def _task_gone(endpoint: Endpoint) -> ErrorClass:
    if endpoint is Endpoint.STOP:
        return ErrorClass.ALREADY_STOPPED
    if endpoint in _TASK_ENDPOINTS:
        return ErrorClass.NOT_FOUND
    return ErrorClass.INVALID
