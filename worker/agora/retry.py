"""Retry policy of the Agora client: bounded attempts and time, exponential backoff, jitter."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long the client repeats a retryable request.

    Attempt n (n ≥ 1) that fails is followed, if allowed, by a pause drawn uniformly from
    `[cap/2, cap]` with `cap = min(max_delay_s, base_delay_s * 2**(n-1))` ("equal jitter": the
    pause never collapses to zero, and concurrent workers spread out). A 429 that names a
    `Retry-After` waits at least that long (still bounded by `max_delay_s`). No pause is
    started that would end past `total_timeout_s` after the first attempt began.
    """

    max_attempts: int = 4
    """HTTP attempts per call, the first one included."""
    base_delay_s: float = 1.0
    """Cap of the first pause; each later pause doubles it."""
    max_delay_s: float = 8.0
    """Upper bound of any single pause."""
    total_timeout_s: float = 30.0
    """Deadline of a whole call (attempts and pauses together)."""
    rng: random.Random = field(default_factory=random.Random, compare=False)
    """Source of jitter; seed it in tests."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    """How a pause is taken; tests inject one that records and returns at once."""
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    """Monotonic seconds, for the total deadline."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must not be negative")
        if self.max_delay_s < self.base_delay_s:
            raise ValueError("max_delay_s must be at least base_delay_s")
        if self.total_timeout_s <= 0:
            raise ValueError("total_timeout_s must be positive")

    def delay_s(self, failed_attempt: int, retry_after_s: float | None = None) -> float:
        """The pause after the `failed_attempt`-th attempt (1-based) failed."""
        if failed_attempt < 1:
            raise ValueError("failed_attempt is 1-based")
        cap = min(self.max_delay_s, self.base_delay_s * 2.0 ** (failed_attempt - 1))
        delay = cap / 2 + self.rng.uniform(0, cap / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        return delay


def parse_retry_after_s(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header given in seconds; None if absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
