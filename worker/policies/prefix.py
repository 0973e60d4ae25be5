"""Storage prefixes: Agora `fileNamePrefix` elements derived safely from any channel name.

Agora accepts prefix elements made only of `[A-Za-z0-9]`, at most 128 characters in total
counting the slashes that join them. A policy's `storage_prefix` is a template of
slash-separated elements, each letters/digits and these placeholders:

- `{channel}` (a whole element): expands to two elements, the channel name's ASCII letters
  and digits (at most 40; omitted when there are none) and 16 hex digits of the SHA-256 of
  the raw name. `room-1` → `room1/3f2a…`. Deterministic, and different names give different
  prefixes (`room-1` and `room_1` share the readable part, never the hash).
- `{date}` (`YYYYMMDD`), `{yyyy}`, `{mm}`, `{dd}`: the recording's start date in UTC; they
  may be combined with letters in one element (`d{date}`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

#: Agora's limit on the joined prefix, slashes included.
MAX_PREFIX_CHARS: Final = 128
#: Readable characters kept from a channel name.
READABLE_CHARS: Final = 40
#: Hex digits of the name's SHA-256 (64 bits).
HASH_CHARS: Final = 16

CHANNEL: Final = "{channel}"
_DATE_PLACEHOLDERS: Final = {"{date}": 8, "{yyyy}": 4, "{mm}": 2, "{dd}": 2}
_ELEMENT = re.compile(r"(?:[A-Za-z0-9]|\{date\}|\{yyyy\}|\{mm\}|\{dd\})+")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def channel_prefix(channel: str) -> list[str]:
    """The prefix elements that stand for `channel` (readable part, then a hash)."""
    readable = "".join(_ALNUM.findall(channel))[:READABLE_CHARS]
    raw = channel.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()[:HASH_CHARS]
    return [readable, digest] if readable else [digest]


@dataclass(frozen=True, slots=True)
class PrefixTemplate:
    """A validated `storage_prefix` template (see the module docstring)."""

    elements: tuple[str, ...]

    @classmethod
    def parse(cls, template: str) -> PrefixTemplate:
        """Validate a template; `ValueError` says what is wrong (without the field name)."""
        if template == "":
            return cls(())
        elements = tuple(template.split("/"))
        for element in elements:
            if element == CHANNEL:
                continue
            if element == "":
                raise ValueError(
                    f"must not contain empty elements (leading, trailing or double '/'): "
                    f"{template!r}"
                )
            if CHANNEL in element:
                raise ValueError(f"{CHANNEL} must be a whole element, got {element!r}")
            if not _ELEMENT.fullmatch(element):
                raise ValueError(
                    f"element {element!r} may contain only A-Z, a-z, 0-9 and the "
                    "placeholders {channel}, {date}, {yyyy}, {mm}, {dd}"
                )
        parsed = cls(elements)
        if parsed.max_chars > MAX_PREFIX_CHARS:
            raise ValueError(
                f"may expand to {parsed.max_chars} characters, Agora allows "
                f"{MAX_PREFIX_CHARS} (each {CHANNEL} takes up to "
                f"{READABLE_CHARS + 1 + HASH_CHARS})"
            )
        return parsed

    @property
    def max_chars(self) -> int:
        """The longest joined prefix this template can produce."""
        total = max(0, len(self.elements) - 1)
        for element in self.elements:
            if element == CHANNEL:
                total += READABLE_CHARS + 1 + HASH_CHARS
                continue
            length = len(element)
            for placeholder, width in _DATE_PLACEHOLDERS.items():
                length += element.count(placeholder) * (width - len(placeholder))
            total += length
        return total

    def render(self, channel: str, *, at: datetime) -> list[str]:
        """Agora `fileNamePrefix` for `channel` recorded from `at` (timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("at must be a timezone-aware datetime")
        day = at.astimezone(UTC)
        values = {
            "{date}": day.strftime("%Y%m%d"),
            "{yyyy}": day.strftime("%Y"),
            "{mm}": day.strftime("%m"),
            "{dd}": day.strftime("%d"),
        }
        prefix: list[str] = []
        for element in self.elements:
            if element == CHANNEL:
                prefix.extend(channel_prefix(channel))
                continue
            for placeholder, value in values.items():
                element = element.replace(placeholder, value)
            prefix.append(element)
        return prefix
