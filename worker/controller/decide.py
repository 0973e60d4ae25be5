"""The controller's decision rules: what to do next for one channel (pure, no I/O).

`decide(facts)` looks at the channel's desired state, its session and the clock and returns
one `Action`. The controller performs it, stores the result and decides again, until the
answer is to wait (`Wait`) or that nothing is to be done (`Idle`). Each rule is a sentence of
docs/design.md ("The reconcile decision").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from worker.state.history import MAX_DURATION_STOP_REASON, Outcome
from worker.state.overrides import MANUAL_STOP_REASON
from worker.state.sessions import Session, SessionState

#: Agora keeps an acquired resource five minutes; we stop using one a little earlier.
RESOURCE_TTL_MS: Final = 290_000
#: Recording event 41's leave code Agora says to ignore (LEAVE_CODE_TIMER_CATCH).
LEAVE_CODE_IGNORED: Final = 8
#: The stop reason of a task declared dead (its history says `agora` ended it).
DEAD_STOP_REASON: Final = "agora"


class Do(StrEnum):
    """The kinds of action."""

    IDLE = "idle"
    """Nothing to do: no recording wanted and none running (also leaves the slot queue)."""
    WAIT = "wait"
    """Nothing to do before `due_ms` (None: until something changes)."""
    TAKE_SLOT = "take_slot"
    """Recording wanted and none running: take a slot, then open a session."""
    ACQUIRE = "acquire"
    START = "start"
    RENEW_RESOURCE = "renew_resource"
    """The resource is too old and no start was ever sent on it: acquire another."""
    SID_UNKNOWN = "sid_unknown"
    """A start may have succeeded on an expired resource: wait for event 40's sid."""
    PROBE = "probe"
    """No event 40 for long while the channel wants a recording: start afresh with the same
    uid (53 means the task runs: keep waiting; success means it never ran)."""
    ADOPT = "adopt"
    """Recording event 40 told the sid of the task our uncertain start created."""
    QUERY = "query"
    MARK_UNDESIRED = "mark_undesired"
    CLEAR_UNDESIRED = "clear_undesired"
    STOP = "stop"
    FINISH = "finish"
    """The recording is known to have ended (or never started): release and record it."""


@dataclass(frozen=True, slots=True)
class Action:
    """One decision: the kind and its details."""

    do: Do
    reason: str = ""
    due_ms: int | None = None
    """WAIT: when to look again."""
    retry_same_resource: bool = False
    """START: the start is a retry on the same resource (201/7 means started)."""
    outcome: Outcome | None = None
    """FINISH: the history outcome."""


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a decision depends on (times in ms of Redis server time)."""

    now_ms: int
    desired: bool
    empty_since_ms: int | None
    session: Session | None
    grace_ms: int
    max_duration_ms: int
    max_idle_ms: int | None
    """The policy's Agora maxIdleTime (None in web mode: no idle exit)."""
    backoff_until_ms: int | None = None
    """No new session before this time (after a hard start failure)."""
    sid_unknown_margin_ms: int = 60_000
    """Beyond `max_idle_ms`, how long Agora may take to end an idle task."""
    sid_probe_ms: int = 120_000
    """How long a wanted `sid_unknown` session waits for event 40 before probing."""
    manual_stop: bool = False
    """A manual `never` override holds: a running recording stops now, without grace."""


def proven_gone(session: Session) -> bool:
    """Whether recording events proved the session's task gone: 11 (the task exited) or 41
    (the recorder left, with a leave code other than the one to ignore)."""
    if session.exit_status is not None:
        return True
    return session.leave_code is not None and session.leave_code != LEAVE_CODE_IGNORED


def _wait(reason: str, *dues: int | None) -> Action:
    times = [due for due in dues if due is not None]
    return Action(Do.WAIT, reason, due_ms=min(times) if times else None)


def decide(facts: Facts) -> Action:
    """The next action for one channel."""
    session = facts.session
    if session is None:
        return _no_session(facts)
    if session.state is SessionState.STOPPING:
        # A stop waiting out a failover window goes at once when events prove the task gone.
        retry_later = session.retry_due_ms is not None and facts.now_ms < session.retry_due_ms
        if retry_later and not proven_gone(session):
            return _wait("stop not answered yet; retrying", session.retry_due_ms)
        return Action(Do.STOP, session.stop_reason or "stop in progress")
    if session.sid is not None and proven_gone(session):
        return Action(
            Do.FINISH, "recording event 11 or 41: the task exited", outcome=Outcome.EXITED
        )
    if session.state is SessionState.SID_UNKNOWN:
        return _sid_unknown(facts, session)
    if session.state in (SessionState.ACQUIRING, SessionState.STARTING):
        return _opening(facts, session)
    return _recording(facts, session)


def _no_session(facts: Facts) -> Action:
    if not facts.desired:
        return Action(Do.IDLE, "no recording wanted")
    if facts.backoff_until_ms is not None and facts.now_ms < facts.backoff_until_ms:
        return _wait("start failed recently; backing off", facts.backoff_until_ms)
    return Action(Do.TAKE_SLOT, "recording wanted")


def _opening(facts: Facts, session: Session) -> Action:
    if not facts.desired and session.start_attempts == 0:
        if session.probe_of is not None:
            return Action(Do.SID_UNKNOWN, "no longer wanted; the probed task may still run")
        return Action(Do.FINISH, "no longer wanted before start", outcome=Outcome.CANCELLED)
    if session.event_sid is not None and session.start_attempts > 0:
        return Action(Do.ADOPT, "recording event 40 named the sid of our start")
    if session.retry_due_ms is not None and facts.now_ms < session.retry_due_ms:
        return _wait("retrying after a transient failure", session.retry_due_ms)
    if session.state is SessionState.ACQUIRING or session.resource_ms is None:
        return Action(Do.ACQUIRE, "session opened")
    if facts.now_ms - session.resource_ms >= RESOURCE_TTL_MS:
        if session.start_attempts == 0:
            return Action(Do.RENEW_RESOURCE, "resource expired before any start")
        return Action(Do.SID_UNKNOWN, "start outcome unknown and the resource expired")
    return Action(
        Do.START,
        "resource acquired",
        retry_same_resource=session.start_attempts > 0,
    )


def _grace_due(facts: Facts, session: Session) -> int | None:
    since = facts.empty_since_ms
    if since is None:
        since = session.undesired_since_ms
    return None if since is None else since + facts.grace_ms


def _sid_unknown(facts: Facts, session: Session) -> Action:
    # Without the task's resource (a start conflict with a task we never started) a sid
    # cannot be adopted: no query or stop reaches a task without its resource.
    if session.event_sid is not None and session.resource_id is not None:
        return Action(Do.ADOPT, "recording event 40 named the sid")
    if facts.desired:
        if session.undesired_since_ms is not None:
            return Action(Do.CLEAR_UNDESIRED, "wanted again")
        probe_at = session.retry_due_ms
        if probe_at is None:
            began = session.started_ms or session.resource_ms or session.created_ms
            probe_at = began + facts.sid_probe_ms
        if facts.now_ms >= probe_at:
            return Action(Do.PROBE, "no recording event 40; probing with a fresh start")
        return _wait("waiting for recording event 40", probe_at)
    since = facts.empty_since_ms or session.undesired_since_ms
    if since is None:
        return Action(Do.MARK_UNDESIRED, "no longer wanted")
    if facts.max_idle_ms is not None:
        backstop = since + facts.max_idle_ms + facts.sid_unknown_margin_ms
    else:
        backstop = (session.resource_ms or session.created_ms) + facts.max_duration_ms
    if facts.now_ms >= backstop:
        return Action(Do.FINISH, "Agora's idle exit has ended it", outcome=Outcome.SID_UNKNOWN)
    return _wait("sid unknown; Agora's idle exit is the backstop", backstop)


def _recording(facts: Facts, session: Session) -> Action:
    started = session.started_ms if session.started_ms is not None else session.created_ms
    if facts.now_ms - started >= facts.max_duration_ms:
        return Action(Do.STOP, MAX_DURATION_STOP_REASON)
    check_due = session.check_due_ms
    if session.state is SessionState.STARTED and check_due is None:
        check_due = started
    if check_due is not None and session.retry_due_ms is not None:
        # After a transient failure the query waits for its retry time.
        check_due = max(check_due, session.retry_due_ms)
    query_now = check_due is not None and facts.now_ms >= check_due
    if facts.desired:
        if session.undesired_since_ms is not None:
            return Action(Do.CLEAR_UNDESIRED, "wanted again")
        if query_now:
            return Action(Do.QUERY, "check due")
        return _wait("recording", check_due)
    if facts.manual_stop:
        return Action(Do.STOP, MANUAL_STOP_REASON)
    grace_due = _grace_due(facts, session)
    if grace_due is None:
        return Action(Do.MARK_UNDESIRED, "no longer wanted")
    if facts.now_ms >= grace_due:
        return Action(Do.STOP, "empty")
    if query_now:
        return Action(Do.QUERY, "check due")
    return _wait("grace period", grace_due, check_due)
