"""How the controller reads a failed Agora call (pure, no I/O): which failures are transient,
and what to do about a failed acquire or start (`Reaction`), decided in one place.

The reactions themselves (the saves, wake-ups and logs) are carried out by
worker/controller/steps_start.py from its table of reactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from worker.agora import (
    AgoraConflict,
    AgoraError,
    AgoraInvalidRequest,
    AgoraNoCapacity,
    AgoraRetryableError,
    AgoraStartUncertain,
    AgoraTransportError,
)
from worker.state.ratelimit import RateLimitTimeout

#: Transient failures: try again after `retry_delay_ms` (the call did not take effect, or
#: taking effect twice is harmless).
TRANSIENT: Final = (RateLimitTimeout, AgoraRetryableError, AgoraTransportError)
#: What a failed acquire may raise and the controller handles (anything else propagates).
ACQUIRE_ERRORS: Final = (AgoraError, RateLimitTimeout)
#: What a failed start may raise and the controller handles (building the request may raise
#: ValueError for a policy Agora would refuse; anything else propagates).
START_ERRORS: Final = (AgoraError, ValueError, RateLimitTimeout)
#: start answers meaning the resource is unusable (433 expired, 1001 unknown, 432 mismatch).
RESOURCE_CODES: Final = frozenset({432, 433, 1001})


class Reaction(StrEnum):
    """What the controller does about a failed acquire or start."""

    RETRY_LATER = "retry_later"
    """A transient failure: the same call again after the retry delay."""
    START_UNCERTAIN = "start_uncertain"
    """A start on a fresh resource may have begun: decide again now; the next start is a
    retry on the same resource (Agora answers 201/7 if the first one went through)."""
    START_UNCERTAIN_AGAIN = "start_uncertain_again"
    """A retry on the same resource was uncertain too: retry it after the retry delay."""
    CONFLICT = "conflict"
    """start 53: a task with this (cname, uid) runs: adopt it or switch the recorder uid."""
    PROBE_CONFLICT = "probe_conflict"
    """start 53 on a probe: the earlier task runs; back to waiting for its sid."""
    PROBE_ANSWERED = "probe_answered"
    """A probe failed otherwise: the earlier task counts as running all the same."""
    WAIT_FOR_CAPACITY = "wait_for_capacity"
    """acquire found Agora without capacity: give the slot back and wait first in line."""
    REACQUIRE_LATER = "reacquire_later"
    """start found Agora without capacity: acquire a new resource after a while."""
    REACQUIRE = "reacquire"
    """The resource is unusable (expired, unknown, mismatched): acquire a new one now."""
    FAILED = "failed"
    """A failure for good: record it, free the slot, back off before the next start."""


@dataclass(frozen=True, slots=True)
class StepFailure:
    """An Agora call of one reconcile step that did not succeed (for the job's result)."""

    action: str
    """The step (`acquire`, `start`, `query`, `stop`)."""
    error: str
    """The error as one line (`error_text`)."""
    status: int | None = None
    """Agora's HTTP status, when it answered."""
    code: int | None = None
    """Agora's error code, when it gave one."""

    @classmethod
    def of(cls, action: str, exc: BaseException) -> StepFailure:
        """The failure of `action` that raised `exc`."""
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        return cls(
            action,
            error_text(exc),
            status if isinstance(status, int) else None,
            code if isinstance(code, int) else None,
        )

    def line(self) -> str:
        """`start: HTTP 400 code 2: ...` for the job's error."""
        return f"{self.action}: {self.error}"


def error_text(exc: BaseException) -> str:
    """The exception as one short line for logs and `last_error` (never a request body)."""
    return f"{type(exc).__name__}: {exc}"[:300]


def acquire_reaction(exc: Exception, *, probing: bool) -> Reaction:
    """The reaction to a failed acquire (`exc` one of `ACQUIRE_ERRORS`); `probing`: the
    session probes whether the task of an unknown sid runs."""
    if isinstance(exc, AgoraNoCapacity):
        return Reaction.PROBE_ANSWERED if probing else Reaction.WAIT_FOR_CAPACITY
    if isinstance(exc, TRANSIENT):
        return Reaction.RETRY_LATER
    return Reaction.PROBE_ANSWERED if probing else Reaction.FAILED


def start_reaction(exc: Exception, *, retry_same_resource: bool, probing: bool) -> Reaction:
    """The reaction to a failed start (`exc` one of `START_ERRORS`); `retry_same_resource`:
    the start retried an earlier uncertain one; `probing` as for `acquire_reaction`."""
    if isinstance(exc, AgoraStartUncertain):
        return Reaction.START_UNCERTAIN_AGAIN if retry_same_resource else Reaction.START_UNCERTAIN
    if isinstance(exc, AgoraConflict):
        return Reaction.PROBE_CONFLICT if probing else Reaction.CONFLICT
    if isinstance(exc, AgoraNoCapacity):
        return Reaction.REACQUIRE_LATER
    if isinstance(exc, AgoraInvalidRequest) and exc.code in RESOURCE_CODES:
        return Reaction.REACQUIRE
    if isinstance(exc, TRANSIENT):
        return Reaction.RETRY_LATER
    return Reaction.PROBE_ANSWERED if probing else Reaction.FAILED
