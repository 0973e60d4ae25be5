"""Typed reads from request JSON; every failure names the field's full path (Agora code 2)."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sandbox.models import AgoraError

UID_MAX = 2**32 - 1
_CHANNEL_CHARS = re.compile(r"[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+")


class InvalidParameter(Exception):
    """A request field that breaks Agora's rules; Agora answers 400 with code 2."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}")

    def to_agora(self) -> AgoraError:
        """The 400/2 answer naming the field."""
        return AgoraError(400, code=2, reason=f"invalid parameter: {self.field} {self.problem}")


def is_channel_name(cname: str) -> bool:
    """RTC channel-name rules: under 64 bytes of letters, digits, space and Agora's symbols."""
    return len(cname.encode()) < 64 and _CHANNEL_CHARS.fullmatch(cname) is not None


def check_uid(value: object, field: str) -> str:
    """A uid as Agora wants it in bodies: a decimal string in 1..2^32-1, no leading zeros."""
    if not isinstance(value, str):
        raise InvalidParameter(field, "must be a string")
    if not value.isdigit() or not value.isascii() or str(int(value)) != value:
        raise InvalidParameter(field, "must be a decimal integer string")
    if not 1 <= int(value) <= UID_MAX:
        raise InvalidParameter(field, f"must be in [1, {UID_MAX}]")
    return value


class Fields:
    """One JSON object at `path`; unknown keys are refused when `allowed` is given."""

    def __init__(self, data: object, path: str, allowed: Collection[str] | None = None) -> None:
        if not isinstance(data, dict):
            raise InvalidParameter(path or "body", "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        if allowed is not None:
            unknown = sorted(set(data) - set(allowed))
            if unknown:
                raise InvalidParameter(self.at(unknown[0]), "is not a known field")

    def at(self, key: str) -> str:
        """Full path of `key`."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Whether the body carries `key`."""
        return key in self.data

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise InvalidParameter(self.at(key), "is required")
            return None
        return self.data[key]

    def forbid(self, key: str, why: str) -> None:
        """Refuse `key` when present (a field not allowed in this mode)."""
        if key in self.data:
            raise InvalidParameter(self.at(key), why)

    def obj(self, key: str, allowed: Collection[str], *, required: bool = False) -> Fields | None:
        """A nested object."""
        value = self._get(key, required)
        return (
            None if value is None and key not in self.data else Fields(value, self.at(key), allowed)
        )

    def text(self, key: str, *, required: bool = False, max_bytes: int | None = None) -> str | None:
        """A non-empty string."""
        value = self._get(key, required)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, str) or not value:
            raise InvalidParameter(self.at(key), "must be a non-empty string")
        if max_bytes is not None and len(value.encode()) > max_bytes:
            raise InvalidParameter(self.at(key), f"must be at most {max_bytes} bytes")
        return value

    def choice(self, key: str, choices: Collection[str], *, required: bool = False) -> str | None:
        """A string from a fixed set."""
        value = self.text(key, required=required)
        if value is not None and value not in choices:
            raise InvalidParameter(self.at(key), f"must be one of {sorted(choices)}")
        return value

    def integer(
        self,
        key: str,
        lo: int,
        hi: int,
        *,
        required: bool = False,
        allowed: Collection[int] | None = None,
    ) -> int | None:
        """An integer in [lo, hi] (and in `allowed` when given)."""
        value = self._get(key, required)
        if value is None and key not in self.data:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(self.at(key), "must be an integer")
        if not lo <= value <= hi:
            raise InvalidParameter(self.at(key), f"must be in [{lo}, {hi}]")
        if allowed is not None and value not in allowed:
            raise InvalidParameter(self.at(key), f"must be one of {sorted(allowed)}")
        return value

    def number(self, key: str, lo: float, hi: float, *, required: bool = False) -> float | None:
        """A number in [lo, hi]."""
        value = self._get(key, required)
        if value is None and key not in self.data:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(self.at(key), "must be a number")
        if not lo <= value <= hi:
            raise InvalidParameter(self.at(key), f"must be in [{lo}, {hi}]")
        return float(value)

    def flag(self, key: str) -> bool | None:
        """A boolean."""
        value = self._get(key, False)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, bool):
            raise InvalidParameter(self.at(key), "must be a boolean")
        return value

    def texts(
        self, key: str, *, required: bool = False, max_items: int | None = None
    ) -> list[str] | None:
        """A non-empty list of non-empty strings."""
        value = self._get(key, required)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, list) or not value:
            raise InvalidParameter(self.at(key), "must be a non-empty list")
        if max_items is not None and len(value) > max_items:
            raise InvalidParameter(self.at(key), f"must hold at most {max_items} entries")
        if not all(isinstance(item, str) and item for item in value):
            raise InvalidParameter(self.at(key), "must hold only non-empty strings")
        return list(value)

    def objs(
        self,
        key: str,
        allowed: Collection[str],
        *,
        required: bool = False,
        max_items: int | None = None,
    ) -> list[Fields] | None:
        """A non-empty list of objects."""
        value = self._get(key, required)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, list) or not value:
            raise InvalidParameter(self.at(key), "must be a non-empty list")
        if max_items is not None and len(value) > max_items:
            raise InvalidParameter(self.at(key), f"must hold at most {max_items} entries")
        return [Fields(item, f"{self.at(key)}[{i}]", allowed) for i, item in enumerate(value)]
