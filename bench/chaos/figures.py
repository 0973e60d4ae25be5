"""The invariant figures of a chaos run, computed from what the sandbox (Agora) recorded and
what the users did; pure functions of those records, no I/O.

Time lines are Unix milliseconds (the sandbox stamps tasks with its Unix clock, the users'
moves are stamped by the bench on the same host). Durations are measured on a grid of
`STEP_MS`, which is exact to that step.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

STEP_MS = 100
#: Slack on top of each bound: job pickup, requests, a loaded machine.
SLACK_S = 5.0
#: NCS event types that tell a user (or everyone) left.
LEAVE_TYPES = frozenset({102, 104, 106, 108})


@dataclass(frozen=True)
class Move:
    """A user joined (`joined` True) or left a channel, at `at_ms` (Unix ms)."""

    at_ms: int
    channel: str
    uid: int
    joined: bool


@dataclass(frozen=True)
class Task:
    """A recording at Agora: running from `started_ms` until `ended_ms` (None: still runs)."""

    channel: str
    sid: str
    started_ms: int
    ended_ms: int | None


@dataclass(frozen=True)
class Bounds:
    """The run's timings, from the settings it ran with."""

    limit: int
    grace_s: float
    interval_s: float

    @property
    def leak_budget_ms(self) -> int:
        """Empty channel, leave delivered: grace + interval + slack."""
        return round((self.grace_s + self.interval_s + SLACK_S) * 1000)

    @property
    def lost_leave_budget_ms(self) -> int:
        """Empty channel whose leave was never accepted: grace + 2 x interval + slack."""
        return round((self.grace_s + 2 * self.interval_s + SLACK_S) * 1000)

    @property
    def start_budget_ms(self) -> int:
        """An occupied channel with a free slot should record within interval + slack."""
        return round((self.interval_s + SLACK_S) * 1000)


@dataclass
class Timeline:
    """Occupied and recording intervals per channel, and the channels' empty periods."""

    begin_ms: int
    end_ms: int
    occupied: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    recording: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def occupied_intervals(moves: Iterable[Move], end_ms: int) -> dict[str, list[tuple[int, int]]]:
    """Per channel, the intervals during which at least one user was in it."""
    present: dict[str, set[int]] = {}
    since: dict[str, int] = {}
    intervals: dict[str, list[tuple[int, int]]] = {}
    for move in sorted(moves, key=lambda m: m.at_ms):
        users = present.setdefault(move.channel, set())
        was = bool(users)
        (users.add if move.joined else users.discard)(move.uid)
        if users and not was:
            since[move.channel] = move.at_ms
        elif was and not users:
            intervals.setdefault(move.channel, []).append((since.pop(move.channel), move.at_ms))
    for channel, begin in since.items():
        intervals.setdefault(channel, []).append((begin, end_ms))
    return intervals


def recording_intervals(tasks: Iterable[Task], end_ms: int) -> dict[str, list[tuple[int, int]]]:
    """Per channel, each task's running interval (several may overlap)."""
    intervals: dict[str, list[tuple[int, int]]] = {}
    for task in tasks:
        end = end_ms if task.ended_ms is None else task.ended_ms
        intervals.setdefault(task.channel, []).append((task.started_ms, end))
    return intervals


def _covering(intervals: Sequence[tuple[int, int]], t_ms: int) -> int:
    return sum(1 for begin, end in intervals if begin <= t_ms < end)


def _interval_at(intervals: Sequence[tuple[int, int]], t_ms: int) -> tuple[int, int] | None:
    for begin, end in intervals:
        if begin <= t_ms < end:
            return begin, end
    return None


@dataclass(frozen=True)
class Figures:
    """Everything the table shows."""

    limit: int
    peak: int
    starts_beyond_limit: int
    rejected_429: int
    leak_s: float
    leak_channels: int
    double_channels: int
    double_s: float
    missed_s: float
    accepted_events: int
    lost_events: int
    running_after_tail: int
    webhook_5xx: int
    fuzzed: int
    fuzzed_500: int
    secrets_in_logs: int


def limit_breaches(tasks: Sequence[Task], limit: int, end_ms: int) -> tuple[int, list[list[Task]]]:
    """(peak concurrent recordings, for each start that took the count above `limit` the
    tasks running just after it, the new one last)."""
    edges = sorted(
        [(t.started_ms, 1, t) for t in tasks]
        + [(end_ms if t.ended_ms is None else t.ended_ms, -1, t) for t in tasks],
        key=lambda edge: (edge[0], edge[1]),  # an end and a start at one ms: the end first
    )
    running: list[Task] = []
    peak = 0
    breaches: list[list[Task]] = []
    for _, step, task in edges:
        if step < 0:
            running.remove(task)
            continue
        running.append(task)
        peak = max(peak, len(running))
        if len(running) > limit:
            breaches.append(list(running))
    return peak, breaches


def limit_figures(tasks: Sequence[Task], limit: int, end_ms: int) -> tuple[int, int]:
    """(peak concurrent recordings, starts that took the count above `limit`)."""
    peak, breaches = limit_breaches(tasks, limit, end_ms)
    return peak, len(breaches)


@dataclass(frozen=True)
class GridFigures:
    """Seconds measured on the grid; the per-channel maps say where."""

    leak_s: dict[str, float]
    double_s: dict[str, float]
    missed_s: float


def _unreachable(
    windows: Sequence[tuple[int, int]], since_ms: int, t_ms: int, after_ms: int
) -> bool:
    """Whether a failover window that ended after `since_ms` excuses time `t_ms`: Agora
    answered 404 to every stop during it, and the controller gets `after_ms` to try again."""
    return any(begin <= t_ms < end + after_ms and end > since_ms for begin, end in windows)


def grid_figures(
    timeline: Timeline,
    bounds: Bounds,
    lost_leave_at_ms: Mapping[str, Sequence[int]],
    failover_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> GridFigures:
    """Leak and double-recording seconds per channel, and missed-recording seconds.

    - leak: a task runs on a channel that has been empty longer than the leak budget (the
      lost-leave budget when a leave of that channel sent while it was occupied was never
      accepted by the webhook service); a task in an HA failover window (Agora answers 404 to
      its stop) is excused until the window's end plus the start budget;
    - double: two tasks run in one channel at once;
    - missed: occupied channels without a recording while recordings run below the limit,
      counted as min(such channels, free slots) once that shortage has lasted the start
      budget without a break.
    """
    channels = sorted(set(timeline.occupied) | set(timeline.recording))
    missed_s = 0.0
    leak_s: dict[str, float] = {}
    double_s: dict[str, float] = {}
    step_s = STEP_MS / 1000
    shortage_since: int | None = None
    lost = {c: sorted(times) for c, times in lost_leave_at_ms.items()}
    for t in range(timeline.begin_ms, timeline.end_ms, STEP_MS):
        running_total = 0
        waiting = 0
        for channel in channels:
            recs = timeline.recording.get(channel, [])
            running = _covering(recs, t)
            running_total += running
            occ = timeline.occupied.get(channel, [])
            interval = _interval_at(occ, t)
            if running >= 2:
                double_s[channel] = double_s.get(channel, 0.0) + step_s
            if interval is None:
                if running:
                    # Never occupied: a recording nobody asked for leaks from the beginning.
                    empty_since = max(
                        [end for _, end in occ if end <= t], default=timeline.begin_ms
                    )
                    previous = max(
                        [begin for begin, end in occ if end <= t], default=timeline.begin_ms
                    )
                    times = lost.get(channel, [])
                    was_lost = bisect.bisect_right(times, empty_since) > bisect.bisect_left(
                        times, previous
                    )
                    budget = bounds.lost_leave_budget_ms if was_lost else bounds.leak_budget_ms
                    windows = (failover_windows or {}).get(channel, [])
                    excused = _unreachable(windows, empty_since, t, bounds.start_budget_ms)
                    if t >= empty_since + budget and not excused:
                        leak_s[channel] = leak_s.get(channel, 0.0) + step_s
            elif running == 0:
                waiting += 1
        shortage = min(waiting, max(0, bounds.limit - running_total))
        if shortage == 0:
            shortage_since = None
            continue
        if shortage_since is None:
            shortage_since = t
        if t >= shortage_since + bounds.start_budget_ms:
            missed_s += shortage * step_s
    return GridFigures(leak_s, double_s, missed_s)


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    value: str
    goal: str
    met: bool


def rows(f: Figures, bounds: Bounds) -> list[Row]:
    """The table's rows, each with its goal (0 unless said) and whether it was met."""
    lost_leave_s = bounds.lost_leave_budget_ms / 1000
    leak_s = bounds.leak_budget_ms / 1000
    return [
        Row("peak recordings at Agora", f"{f.peak}", f"<= {f.limit}", f.peak <= f.limit),
        Row("starts beyond the limit", f"{f.starts_beyond_limit}", "0", f.starts_beyond_limit == 0),
        Row("429 answers", f"{f.rejected_429}", "0", f.rejected_429 == 0),
        Row(
            f"leak s (empty > {leak_s:g} s; lost leave > {lost_leave_s:g} s)",
            f"{f.leak_s:.1f} ({f.leak_channels} ch)",
            "0",
            f.leak_s == 0,
        ),
        Row(
            "two recordings in one channel",
            f"{f.double_channels} ch, {f.double_s:.1f} s",
            "0",
            f.double_channels == 0,
        ),
        Row(
            f"missed-recording s (free slot, > {bounds.start_budget_ms / 1000:g} s)",
            f"{f.missed_s:.1f}",
            "0",
            f.missed_s == 0,
        ),
        Row(
            "lost events (accepted, never applied)",
            f"{f.lost_events} of {f.accepted_events}",
            "0",
            f.lost_events == 0,
        ),
        Row(
            "recordings running after the quiet tail",
            f"{f.running_after_tail}",
            "0",
            f.running_after_tail == 0,
        ),
        Row("webhook 5xx (not 503 while Redis down)", f"{f.webhook_5xx}", "0", f.webhook_5xx == 0),
        Row(
            "fuzzed bodies answered 500",
            f"{f.fuzzed_500} of {f.fuzzed}",
            "0",
            f.fuzzed_500 == 0,
        ),
        Row("secrets in logs", f"{f.secrets_in_logs}", "0", f.secrets_in_logs == 0),
    ]


def table(f: Figures, bounds: Bounds) -> str:
    """The printed table, one line per figure, and a verdict line."""
    lines = rows(f, bounds)
    width = max(len(row.name) for row in lines) + 2
    out = [f"{'figure':<{width}}{'value':>18}   goal    met"]
    out += [
        f"{row.name:<{width}}{row.value:>18}   {row.goal:<7} {'yes' if row.met else 'NO'}"
        for row in lines
    ]
    verdict = "all goals met" if all(row.met for row in lines) else "goals NOT met"
    return "\n".join([*out, verdict])


def goals_met(f: Figures, bounds: Bounds) -> bool:
    """Whether every figure meets its goal."""
    return all(row.met for row in rows(f, bounds))
