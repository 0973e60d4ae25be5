"""`autorec status`: recording slots, waiting channels, running recordings, recent failures.

`read_status()` takes one consistent snapshot of the slot semaphore (with Redis server time)
and reads the sessions, the channels' occupancy and the recent failures around it;
`render_status()` prints it as rich tables and `status_json()` as one JSON document.
Reading never changes a recording. The only writes are the housekeeping every reader does:
the slot script sweeps leases that have already expired, and the session index drops
channels whose session is gone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import orjson
import redis.asyncio as aioredis
from rich.console import Console

from worker.cli import tables
from worker.settings import Settings
from worker.state.channel_state import read_channel_state
from worker.state.history import OUTCOME_REASONS, HistoryStore, Outcome
from worker.state.sessions import SessionStore
from worker.state.slots import Slots

#: Waiting channels listed by name; the rest are counted.
MAX_WAITING_SHOWN: Final = 20
DEFAULT_FAILURES: Final = 10
#: Output width when stdout is not a terminal (a pipe or a file), so rows stay whole.
PIPE_WIDTH: Final = 160


@dataclass(frozen=True, slots=True)
class RecordingRow:
    """A channel's current recording session."""

    channel: str
    state: str
    uid: int
    sid: str | None
    mode: str
    users: int | None
    """Qualifying users present now (None: the channel was never seen)."""
    started_ms: int | None
    duration_s: float | None
    """Since Agora accepted the start, by Redis server time (None: not started yet)."""


@dataclass(frozen=True, slots=True)
class WaitingRow:
    """A channel waiting for a recording slot."""

    position: int
    channel: str
    users: int | None


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A recent failure."""

    at_ms: int
    channel: str
    what: str
    error: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything `autorec status` shows."""

    now_ms: int
    """Redis server time of the slot snapshot."""
    slots_used: int
    slots_limit: int
    waiting_total: int
    waiting: tuple[WaitingRow, ...]
    """The first `MAX_WAITING_SHOWN` waiting channels, in queue order."""
    recordings: tuple[RecordingRow, ...]
    failures: tuple[FailureRow, ...]


async def read_status(
    redis: aioredis.Redis[bytes], settings: Settings, *, failures: int = DEFAULT_FAILURES
) -> StatusReport:
    """Read the controller's state from Redis; raises redis' errors when it is unreachable."""
    snapshot = await Slots(redis, limit=settings.autorec_max_recordings).snapshot()
    sessions = await SessionStore(redis).list_sessions()
    history = HistoryStore(redis, history_days=settings.autorec_session_history_days)
    recent = await history.recent_failures(failures) if failures > 0 else []
    waiting = snapshot.waiting[:MAX_WAITING_SHOWN]
    users = await _occupancy(redis, [s.channel for s in sessions] + list(waiting))
    return StatusReport(
        now_ms=snapshot.now_ms,
        slots_used=snapshot.in_use,
        slots_limit=snapshot.limit,
        waiting_total=len(snapshot.waiting),
        waiting=tuple(
            WaitingRow(position, channel, users.get(channel))
            for position, channel in enumerate(waiting, start=1)
        ),
        recordings=tuple(
            RecordingRow(
                channel=s.channel,
                state=s.state.value,
                uid=s.uid,
                sid=s.sid,
                mode=s.mode,
                users=users.get(s.channel),
                started_ms=s.started_ms,
                duration_s=(
                    max(0, snapshot.now_ms - s.started_ms) / 1000
                    if s.started_ms is not None
                    else None
                ),
            )
            for s in sessions
        ),
        failures=tuple(FailureRow(f.at_ms, f.channel, f.what, f.error) for f in recent),
    )


async def _occupancy(redis: aioredis.Redis[bytes], channels: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for channel in dict.fromkeys(channels):
        state = await read_channel_state(redis, channel)
        if state is not None:
            found[channel] = state.occupancy
    return found


def status_json(report: StatusReport) -> str:
    """The report as one JSON document (for scripts)."""
    document: dict[str, Any] = {
        "now_ms": report.now_ms,
        "slots": {"used": report.slots_used, "limit": report.slots_limit},
        "waiting_total": report.waiting_total,
        "waiting": [asdict(row) for row in report.waiting],
        "recordings": [asdict(row) for row in report.recordings],
        "failures": [asdict(row) for row in report.failures],
    }
    return orjson.dumps(document).decode()


def render_status(report: StatusReport, console: Console) -> None:
    """Print the report: a summary line, then a table per non-empty section."""
    running = sum(1 for row in report.recordings if row.sid is not None)
    console.print(
        f"slots {report.slots_used}/{report.slots_limit} used · "
        f"{len(report.recordings)} recording session{_s(len(report.recordings))} "
        f"({running} with a sid) · {report.waiting_total} waiting · "
        f"Redis time {tables.clock_ms(report.now_ms)}",
        soft_wrap=True,
    )
    if report.recordings:
        table = tables.table("Recording")
        table.add_column("channel", overflow="fold", min_width=12)
        table.add_column("state", no_wrap=True)
        table.add_column("users", justify="right", no_wrap=True)
        table.add_column("recorder uid", no_wrap=True)
        table.add_column("sid", no_wrap=True, min_width=32)  # Agora sids: 32 hex characters
        table.add_column("mode", no_wrap=True)
        table.add_column("duration", justify="right", no_wrap=True)
        for row in report.recordings:
            table.add_row(
                row.channel,
                row.state,
                _users(row.users),
                str(row.uid),
                row.sid or "—",
                row.mode,
                tables.duration(row.duration_s),
            )
        console.print(table)
    else:
        console.print("No recordings.")
    if report.waiting:
        table = tables.table("Waiting for a slot (first in line first)")
        table.add_column("#", justify="right")
        table.add_column("channel")
        table.add_column("users", justify="right")
        for wait in report.waiting:
            table.add_row(str(wait.position), wait.channel, _users(wait.users))
        more = report.waiting_total - len(report.waiting)
        if more > 0:
            table.add_row("", f"… and {more} more", "")
        console.print(table)
    if report.failures:
        table = tables.table("Recent failures (newest first)")
        table.add_column("when (UTC)", no_wrap=True)
        table.add_column("channel", overflow="fold")
        table.add_column("what")
        table.add_column("error", overflow="fold")
        for failure in report.failures:
            table.add_row(
                tables.clock_ms(failure.at_ms), failure.channel, failure.what, _reason(failure)
            )
        console.print(table)


def status_console() -> Console:
    """The console of `autorec status`: the terminal's width, or 160 columns into a pipe."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def _reason(failure: FailureRow) -> str:
    """The failure's error; an older entry that repeats its outcome gets it in words."""
    if failure.error != failure.what:
        return failure.error
    try:
        return OUTCOME_REASONS.get(Outcome(failure.what), failure.error)
    except ValueError:
        return failure.error


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _users(users: int | None) -> str:
    return "—" if users is None else str(users)
