"""Recorder uids: a deterministic primary and backup uid per channel in the reserved range.

Agora identifies a recording by (cname, uid), and advises alternating between two uids when
a recording is restarted, so a recorder that may still be in the channel is never kicked by
its successor. Both uids derive from a hash of the channel name, so every worker (and a
restarted one) computes the same pair without storing it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PRIMARY = 0
BACKUP = 1


@dataclass(frozen=True, slots=True)
class RecorderUids:
    """The two recorder uids of one channel; `uid(index)` picks one (0 primary, 1 backup)."""

    primary: int
    backup: int

    def uid(self, index: int) -> int:
        """The uid for `index` (0 or 1)."""
        if index not in (PRIMARY, BACKUP):
            raise ValueError(f"recorder uid index must be 0 or 1, got {index}")
        return self.primary if index == PRIMARY else self.backup


def _hash_into(text: str, lo: int, span: int) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return lo + int.from_bytes(digest, "big") % span


def recorder_uids(channel: str, lo: int, hi: int) -> RecorderUids:
    """The channel's recorder uid pair inside `[lo, hi]` (inclusive; at least two uids)."""
    if not 1 <= lo < hi:
        raise ValueError(f"recorder uid range must satisfy 1 <= lo < hi, got {lo}-{hi}")
    span = hi - lo + 1
    primary = _hash_into(f"primary:{channel}", lo, span)
    backup = _hash_into(f"backup:{channel}", lo, span)
    if backup == primary:
        backup = lo + (primary - lo + 1) % span
    return RecorderUids(primary=primary, backup=backup)
