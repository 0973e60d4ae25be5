"""Awaiting conditions and judging the sandbox's record against the invariants of design §8."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from tests.support.e2e.sandbox_admin import Call, Recording, SandboxAdmin
from tests.support.waiting import eventually

__all__ = [
    "assert_converged",
    "busiest_window",
    "converged",
    "eventually",
    "holds",
    "overlapping_recordings",
    "start_order",
]

POLL_S = 0.05


async def holds(condition: Callable[[], Awaitable[bool]], *, for_s: float, what: str) -> None:
    """Check `condition` throughout `for_s` seconds; fail naming `what` the first time it
    does not hold (for "nothing happens" claims, which have no event to await)."""
    deadline = time.monotonic() + for_s
    while True:
        if not await condition():
            raise AssertionError(f"no longer true: {what}")
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(POLL_S)


def overlapping_recordings(tasks: Iterable[Recording]) -> list[tuple[Recording, Recording]]:
    """Pairs of recordings of one channel that ran at the same time (I5).

    A task runs from `started_at_ms` until `ended_at_ms` (the sandbox runs with `exit_s=0`,
    so a stopped task ends at its stop call); a task still running has no end.
    """
    by_channel: dict[str, list[Recording]] = {}
    for task in tasks:
        by_channel.setdefault(task.cname, []).append(task)
    overlaps = []
    for channel_tasks in by_channel.values():
        channel_tasks.sort(key=lambda task: task.started_at_ms)
        for earlier, later in itertools.pairwise(channel_tasks):
            if earlier.ended_at_ms is None or earlier.ended_at_ms > later.started_at_ms:
                overlaps.append((earlier, later))
    return overlaps


def busiest_window(calls: Sequence[Call], window_s: float = 1.0) -> int:
    """The most REST calls that arrived within any sliding window of `window_s` seconds."""
    times = sorted(call.t for call in calls)
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + window_s) - i)
    return best


def start_order(tasks: Iterable[Recording]) -> list[str]:
    """Channels in the order their recordings started."""
    return [task.cname for task in sorted(tasks, key=lambda task: task.started_at_ms)]


async def converged(admin: SandboxAdmin, occupied: Iterable[str], empty: Iterable[str]) -> bool:
    """Whether exactly one recording runs on each occupied channel and none on an empty one."""
    running = await admin.running()
    return all(len(running.get(c, [])) == 1 for c in occupied) and not any(
        running.get(c) for c in empty
    )


async def assert_converged(
    admin: SandboxAdmin,
    occupied: Iterable[str],
    empty: Iterable[str] = (),
    *,
    timeout_s: float = 15.0,
) -> None:
    """Await the final state "one recording per occupied channel, none on empty ones", then
    check that no two recordings of one channel ever overlapped and no limit was broken."""
    occupied, empty = sorted(occupied), sorted(empty)

    async def done() -> bool:
        return await converged(admin, occupied, empty)

    try:
        await eventually(done, what="one recording per occupied channel", timeout_s=timeout_s)
    except AssertionError:
        running = {c: [t.sid for t in ts] for c, ts in (await admin.running()).items()}
        raise AssertionError(
            f"not converged after {timeout_s} s: occupied={occupied} empty={empty} "
            f"running={running}"
        ) from None
    tasks = await admin.recordings()
    assert overlapping_recordings(tasks) == []
    stats = await admin.stats()
    assert stats["limit_violations"] == 0
