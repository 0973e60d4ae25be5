"""When a notification is tried again (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Delays between attempts (the last repeats) and the age after which a notification is
    failed."""

    delays_s: Sequence[float]
    max_age_s: float

    def next_due_ms(self, *, attempts: int, now_ms: int, created_ms: int) -> int | None:
        """When to try again after `attempts` failed attempts; None: give up (failed)."""
        index = min(max(attempts, 1), len(self.delays_s)) - 1
        due = now_ms + round(self.delays_s[index] * 1000)
        if due - created_ms > self.max_age_s * 1000:
            return None
        return due
