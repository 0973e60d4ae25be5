"""Agora's request-rate limit: admitted requests in a sliding one-second window."""

from __future__ import annotations

from collections import deque

from sandbox.config import Clock


class QpsWindow:
    """Admits at most `limit` requests in any one second of the clock (None: no limit)."""

    def __init__(self, clock: Clock, limit: float | None) -> None:
        self._clock = clock
        self._limit = limit
        self._admitted_s: deque[float] = deque()

    def admit(self) -> bool:
        """Count one request; False when it is over the limit (it is then not counted)."""
        if self._limit is None:
            return True
        now_s = self._clock.monotonic()
        while self._admitted_s and self._admitted_s[0] <= now_s - 1.0:
            self._admitted_s.popleft()
        if len(self._admitted_s) >= self._limit:
            return False
        self._admitted_s.append(now_s)
        return True

    def clear(self) -> None:
        """Forget every admitted request."""
        self._admitted_s.clear()
