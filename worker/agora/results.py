"""Results of start and stop, whose non-200 answers can still mean success."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from worker.agora.models.responses import StopResponse


@dataclass(frozen=True, slots=True)
class StartResult:
    """A task runs on `resource_id`, started now or by an earlier start (201/code 7)."""

    resource_id: str
    sid: str | None
    """The session id; None only when `already_started` and Agora's 201 body carried none —
    then learn it from the recorder's NCS events (40 carries cname, uid and sid)."""
    already_started: bool
    request_id: str | None


class StopOutcome(StrEnum):
    """Every terminal answer of stop (design §7 treats all as "stopped")."""

    STOPPED = "stopped"
    """200: stopped by this call; `response` holds the files."""
    NO_RECORDED_DATA = "no_recorded_data"
    """206/435: stopped, but nobody published, so there are no files."""
    ALREADY_STOPPING = "already_stopping"
    """400/49: the task was already exiting (duplicate stop, idle exit, recorder kicked)."""
    NOT_FOUND = "not_found"
    """404 "failed to find worker": the task no longer exists."""


@dataclass(frozen=True, slots=True)
class StopResult:
    """The outcome of a stop; `response` is present when Agora sent a readable body."""

    outcome: StopOutcome
    status: int
    code: int | None
    response: StopResponse | None
    request_id: str | None
