"""Agora uids in policies: validation and the individual-mode `subscribeUidGroup` sizes."""

from __future__ import annotations

import re
from typing import Any, Final

#: Agora's wildcard for "every stream" in subscription lists.
ALL_STREAMS: Final = "#allstream#"
UID_MAX: Final = 2**32 - 1
_UID_GROUPS: Final = ((2, 0), (7, 1), (12, 2), (17, 3), (32, 4), (49, 5))


def parse_uid(value: Any) -> str:
    """A uid given as integer or decimal string, as Agora's string form; else ValueError."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.fullmatch(r"[1-9][0-9]{0,9}", text):
        raise ValueError(f"uids must be integers from 1 to {UID_MAX}, got {value!r}")
    if int(text) > UID_MAX:
        raise ValueError(f"uids must be integers from 1 to {UID_MAX}, got {value!r}")
    return text


def uid_group(users: int) -> int:
    """Agora `subscribeUidGroup` for an expected number of recorded users (1 to 49)."""
    for most, group in _UID_GROUPS:
        if users <= most:
            return group
    raise ValueError(f"Agora records at most 49 users individually, got {users}")
