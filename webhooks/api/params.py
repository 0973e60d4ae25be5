"""Path and query parameters of the API: channel names, notification ids, `wait_s`, `limit`,
`cursor`, times.

Each parser raises ApiError(400) naming the parameter; each has a `QueryParam` beside it that
describes it in the OpenAPI document, so an operation lists exactly what its handler reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request

from webhooks.api.errors import ApiError

#: Agora's RTC channel-name rule (agora-facts §2.1): under 64 bytes of these characters.
CHANNEL_CHARACTERS: Final = "a-zA-Z0-9 !#$%&()+\\-:;<=.>?@\\[\\]^_{}|~,"
CHANNEL_MAX_BYTES: Final = 63
CHANNEL_PATTERN: Final = f"^[{CHANNEL_CHARACTERS}]{{1,{CHANNEL_MAX_BYTES}}}$"
_CHANNEL: Final = re.compile(CHANNEL_PATTERN)

#: What a notification id may look like (written as `msg_` and hex): anything else is unknown.
NOTIFICATION_ID_PATTERN: Final = "^[A-Za-z0-9_-]{1,64}$"

MAX_WAIT_S: Final = 30.0
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500
MAX_CURSOR_CHARS: Final = 512


def channel_problem(name: str) -> str | None:
    """Why `name` is not an Agora RTC channel name (None: it is one)."""
    if not _CHANNEL.fullmatch(name):
        return (
            f"must be 1 to {CHANNEL_MAX_BYTES} letters, digits, spaces or "
            "!#$%&()+-:;<=.>?@[]^_{}|~,"
        )
    return None


def check_channel(name: str) -> str:
    """`name` if it is a valid channel name, else ApiError(400, field="channel")."""
    problem = channel_problem(name)
    if problem is not None:
        raise ApiError(400, f"channel: {problem}", "channel")
    return name


@dataclass(frozen=True, slots=True)
class QueryParam:
    """A query parameter as the OpenAPI document describes it."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI Parameter Object."""
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": dict(self.schema),
        }


WAIT_S: Final = QueryParam(
    "wait_s",
    "Seconds to wait for the outcome before answering (0 answers at once).",
    {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S, "default": 0},
)
LIMIT: Final = QueryParam(
    "limit",
    "Most items in one page.",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
)
CURSOR: Final = QueryParam(
    "cursor",
    "`next_cursor` of the previous page; absent for the first page.",
    {"type": "string", "maxLength": MAX_CURSOR_CHARS},
)
SINCE: Final = QueryParam(
    "since",
    "Only items at or after this time (RFC 3339, with a time zone).",
    {"type": "string", "format": "date-time"},
)
UNTIL: Final = QueryParam(
    "until",
    "Only items before this time (RFC 3339, with a time zone).",
    {"type": "string", "format": "date-time"},
)


def _raw(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return None if value is None or value == "" else value


def wait_s(request: Request) -> float:
    """`?wait_s=`: a number of seconds in 0..30 (default 0)."""
    raw = _raw(request, WAIT_S.name)
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT_S:  # also refuses nan
        raise ApiError(
            400, f"wait_s: must be a number of seconds from 0 to {MAX_WAIT_S:g}", "wait_s"
        )
    return value


def limit(request: Request, *, default: int = DEFAULT_LIMIT) -> int:
    """`?limit=`: an integer in 1..500 (default 50)."""
    raw = _raw(request, LIMIT.name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"limit: must be an integer from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def cursor(request: Request) -> str | None:
    """`?cursor=`: the opaque `next_cursor` of the previous page, or None."""
    raw = _raw(request, CURSOR.name)
    if raw is not None and (len(raw) > MAX_CURSOR_CHARS or not raw.isprintable()):
        raise ApiError(400, "cursor: must be the next_cursor of a previous page", "cursor")
    return raw


def since(request: Request) -> datetime | None:
    """`?since=`: an RFC 3339 time, or None."""
    return _time(request, SINCE.name)


def until(request: Request) -> datetime | None:
    """`?until=`: an RFC 3339 time, or None."""
    return _time(request, UNTIL.name)


_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


_SPACED_OFFSET: Final = re.compile(r"(?<=\d) (\d{2}:\d{2})$")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with a time zone, in UTC; ValueError otherwise."""
    if not _RFC3339.fullmatch(text):
        raise ValueError("must be an RFC 3339 time with a time zone, e.g. 2025-01-31T12:00:00Z")
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)


def _time(request: Request, name: str) -> datetime | None:
    raw = _raw(request, name)
    if raw is None:
        return None
    # An unencoded "+01:00" arrives as " 01:00" (a query's "+" is a space).
    raw = _SPACED_OFFSET.sub(r"+\1", raw)
    try:
        return parse_rfc3339(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}", name) from None
