"""Typed readers for untrusted JSON fields, and the normalizer's one error type.

Pure. Every reader either returns a value of the promised type and range or raises
NormalizeError naming the field; messages describe types and limits, never echo values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson

#: Agora RTC channel names are shorter than 64 bytes (agora-facts §2.1).
MAX_CHANNEL_BYTES: Final = 63
UID_MAX: Final = 2**32 - 1
ORDER_MAX: Final = 2**64 - 1
#: Timestamps stay below 2**53 so they are exact in Lua (doubles).
TS_MS_MAX: Final = 2**53 - 1
MAX_ID_CHARS: Final = 256


class NormalizeError(ValueError):
    """An entry or body that can never be applied; `field` names the culprit if known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message if field is None else f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class UidRange:
    """An inclusive uid range (the reserved recorder uids, `AUTOREC_RECORDER_UIDS`)."""

    lo: int
    hi: int

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.lo <= uid <= self.hi


def load_object(body: bytes | str, what: str) -> dict[str, object]:
    """Parse `body` as a JSON object; NormalizeError otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NormalizeError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise NormalizeError(f"{what} is not a JSON object")
    return data


def describe(value: object) -> str:
    """A value's JSON type name, for error messages that must not echo the value."""
    return "null" if value is None else type(value).__name__


def as_int(value: object, *, digits: bool = False) -> int | None:
    """`value` as an int if it is one (never a bool), or, with `digits`, a decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if digits and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) if len(value) <= 20 else None
    return None


def read_int(
    obj: Mapping[str, object], name: str, *, lo: int = 0, hi: int = ORDER_MAX, digits: bool = False
) -> int:
    """A required integer field in [lo, hi]; with `digits`, a decimal string is accepted too."""
    raw = obj.get(name)
    value = as_int(raw, digits=digits)
    if value is None:
        raise NormalizeError(f"must be an integer, got {describe(raw)}", field=name)
    if not lo <= value <= hi:
        raise NormalizeError(f"must be in [{lo}, {hi}]", field=name)
    return value


def read_optional_int(obj: Mapping[str, object], name: str, *, hi: int = ORDER_MAX) -> int | None:
    """An optional integer field in [0, hi]: None when absent or null."""
    if obj.get(name) is None:
        return None
    return read_int(obj, name, hi=hi)


def read_str(obj: Mapping[str, object], name: str, *, max_chars: int = MAX_ID_CHARS) -> str:
    """A required non-empty string field of at most `max_chars` characters."""
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise NormalizeError(f"must be a non-empty string, got {describe(value)}", field=name)
    if len(value) > max_chars:
        raise NormalizeError(f"longer than {max_chars} characters", field=name)
    return value


def read_channel(obj: Mapping[str, object], name: str) -> str:
    """A channel name: a printable string of 1 to 63 bytes (Agora's limit is < 64 bytes)."""
    value = read_str(obj, name, max_chars=MAX_CHANNEL_BYTES)
    if not value.isprintable():
        raise NormalizeError("contains control or format characters", field=name)
    if len(value.encode("utf-8", "surrogatepass")) > MAX_CHANNEL_BYTES:
        raise NormalizeError(f"longer than {MAX_CHANNEL_BYTES} bytes", field=name)
    return value


def read_event_id(obj: Mapping[str, object], name: str, fallback_id: str) -> str:
    """The event's id field, or `fallback_id` (the stream entry id) when it has none."""
    if obj.get(name) is None:
        return fallback_id
    return read_str(obj, name)
