"""One chaos run: start the stack, let the actors loose for `duration_s`, then a quiet tail
(faults off, everyone leaves, grace + 3 reconcile intervals), and judge the record."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.chaos import actors
from bench.chaos.actors import ChaosOptions, Record
from bench.chaos.audit import audit
from bench.chaos.figures import (
    LEAVE_TYPES,
    Bounds,
    Figures,
    GridFigures,
    Task,
    Timeline,
    grid_figures,
    limit_breaches,
    occupied_intervals,
    recording_intervals,
)
from bench.chaos.stack import ChaosStack, chaos_stack

#: 503 answers of the webhook service this long after Redis is back still count as outage.
REDIS_RECOVERY_S = 5.0
#: Beyond the run and the tail: starting, stopping and judging the stack.
OVERHEAD_S = 120.0


@dataclass(frozen=True)
class Report:
    """The figures of a run, the bounds they were judged by, and what was done to it."""

    figures: Figures
    bounds: Bounds
    disturbances: dict[str, int]
    details: list[str]
    """Where the leaks and double recordings were (times in s from the run's start)."""
    log_dir: Path


def _env(options: ChaosOptions) -> dict[str, str]:
    return {
        "AUTOREC_MAX_RECORDINGS": str(options.limit),
        "AUTOREC_MAX_API_QPS": f"{options.qps:g}",
        "AUTOREC_EMPTY_GRACE_S": f"{options.grace_s:g}",
        "AUTOREC_RECONCILE_INTERVAL_S": f"{options.interval_s:g}",
        "AUTOREC_LOG_LEVEL": "INFO",
    }


def _sandbox_env(options: ChaosOptions) -> dict[str, str]:
    return {
        "SANDBOX_QPS_LIMIT": f"{options.qps:g}",
        "SANDBOX_SEED": str(options.seed),
        "SANDBOX_LOG_LEVEL": "warning",
    }


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _spawn(coros: list[Coroutine[Any, Any, None]]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(coro) for coro in coros]


async def _active_phase(
    stack: ChaosStack, record: Record, options: ChaosOptions, rng: random.Random
) -> None:
    admin = stack.procs.admin
    secrets = stack.procs.secrets
    await actors.add_agora_faults(admin, options)
    seeds = [rng.randrange(2**32) for _ in range(options.channels + 6)]
    coros: list[Coroutine[Any, Any, None]] = [
        actors.channel_users(admin, record, options, n, random.Random(seeds[n]))
        for n in range(options.channels)
    ]
    extra = iter(seeds[options.channels :])
    coros += [
        actors.worker_killer(stack, index, options, random.Random(next(extra)))
        for index in range(len(stack.workers))
    ]
    coros += [
        actors.redis_killer(stack, options),
        actors.failovers(admin, record, options, random.Random(next(extra))),
        actors.task_killer(admin, record, options, random.Random(next(extra))),
        actors.fuzzer(
            stack.procs.webhooks.ready_url.removesuffix("/readyz"),
            secrets.ncs_secret,
            secrets.events_secret,
            record,
            options,
            random.Random(next(extra)),
        ),
    ]
    tasks = _spawn(coros)
    await asyncio.wait(tasks, timeout=options.duration_s, return_when="FIRST_EXCEPTION")
    await _cancel(tasks)


async def _quiet_tail(stack: ChaosStack, record: Record, options: ChaosOptions) -> None:
    admin = stack.procs.admin
    await admin.clear_faults()
    # A kill or restart in flight ends first; the supervisor brings every worker back.
    for worker in stack.workers:
        async with stack.lock(worker):
            pass
    await actors.everyone_leaves(admin, record)
    await asyncio.sleep(options.grace_s + 3 * options.interval_s)


def _secrets_in_logs(stack: ChaosStack) -> int:
    output = stack.procs.output()
    return sum(1 for value in stack.procs.secrets.values().values() if value in output)


def _in_outage(t_s: float, outages: list[tuple[float, float]]) -> bool:
    return any(begin <= t_s <= end + REDIS_RECOVERY_S for begin, end in outages)


def _bad_answer(t_s: float, status: int | None, outages: list[tuple[float, float]]) -> bool:
    """A 5xx (or no answer) that Redis being down does not explain."""
    if status is None:
        return True
    return status >= 500 and not (status == 503 and _in_outage(t_s, outages))


async def judge(
    stack: ChaosStack, record: Record, options: ChaosOptions, begin_ms: int, clock_offset_s: float
) -> tuple[Figures, Bounds, list[str]]:
    """Read the sandbox and Redis once the run is over and compute the figures."""
    admin = stack.procs.admin
    end_ms = time.time_ns() // 1_000_000
    running_after_tail = sum(len(tasks) for tasks in (await admin.running()).values())
    tasks = [Task(t.cname, t.sid, t.started_at_ms, t.ended_at_ms) for t in await admin.recordings()]
    events = await admin.ncs()
    stats = await admin.stats()
    bounds = Bounds(limit=options.limit, grace_s=options.grace_s, interval_s=options.interval_s)
    lost_leaves: dict[str, list[int]] = {}
    for event in events:
        payload = event["payload"]
        uid = payload.get("uid", payload.get("lastUid"))
        if (
            event["productId"] == 1
            and event["eventType"] in LEAVE_TYPES
            and uid in record.user_uids
            and event["delivered"] == 0
        ):
            at_ms = round((event["emitted_at_s"] + clock_offset_s) * 1000)
            lost_leaves.setdefault(payload["channelName"], []).append(at_ms)
    timeline = Timeline(
        begin_ms=begin_ms,
        end_ms=end_ms,
        occupied=occupied_intervals(record.moves, end_ms),
        recording=recording_intervals(tasks, end_ms),
    )
    grid = grid_figures(timeline, bounds, lost_leaves, record.failover_windows)
    peak, breaches = limit_breaches(tasks, options.limit, end_ms)
    accepted = [event["noticeId"] for event in events if event["delivered"] > 0]
    stream = await audit(stack.redis.url)
    outages = stack.redis_down
    webhook_5xx = sum(
        1
        for event in events
        for t_s, status in event["answers"]
        if _bad_answer(t_s, status, outages)
    )
    figures = Figures(
        limit=options.limit,
        peak=peak,
        starts_beyond_limit=len(breaches),
        rejected_429=stats["rejected_429"],
        leak_s=sum(grid.leak_s.values()),
        leak_channels=len(grid.leak_s),
        double_channels=len(grid.double_s),
        double_s=sum(grid.double_s.values()),
        missed_s=grid.missed_s,
        accepted_events=len(accepted),
        lost_events=len(stream.lost(accepted)),
        running_after_tail=running_after_tail,
        webhook_5xx=webhook_5xx,
        fuzzed=len(record.fuzz_answers),
        fuzzed_500=sum(
            1 for t_s, status in record.fuzz_answers if _bad_answer(t_s, status, outages)
        ),
        secrets_in_logs=_secrets_in_logs(stack),
    )
    details = _details(grid, breaches, timeline, tasks)
    return figures, bounds, details


def _details(
    grid: GridFigures, breaches: list[list[Task]], timeline: Timeline, tasks: list[Task]
) -> list[str]:
    """Where each leak, double recording and start beyond the limit happened."""
    begin_ms = timeline.begin_ms
    lines = [
        f"leak {channel}: {seconds:.1f} s; tasks {_task_spans(tasks, channel, begin_ms)}; "
        f"occupied {_spans(timeline.occupied.get(channel, []), begin_ms)}"
        for channel, seconds in sorted(grid.leak_s.items())
    ]
    lines += [
        f"two recordings {channel}: {seconds:.1f} s; tasks {_task_spans(tasks, channel, begin_ms)}"
        for channel, seconds in sorted(grid.double_s.items())
    ]
    for running in breaches:
        new = running[-1]
        others = " ".join(
            f"{t.channel}:{t.sid[:6]}@{(t.started_ms - begin_ms) / 1000:.1f}" for t in running[:-1]
        )
        lines.append(
            f"start beyond the limit at {(new.started_ms - begin_ms) / 1000:.1f} s: "
            f"{new.channel}:{new.sid[:6]}; running {others}"
        )
    return lines


def _spans(intervals: list[tuple[int, int]], begin_ms: int) -> str:
    return " ".join(
        f"{(a - begin_ms) / 1000:.1f}-{(b - begin_ms) / 1000:.1f}" for a, b in intervals
    )


def _task_spans(tasks: list[Task], channel: str, begin_ms: int) -> str:
    return " ".join(
        f"{t.sid[:6]}@{(t.started_ms - begin_ms) / 1000:.1f}-"
        + ("running" if t.ended_ms is None else f"{(t.ended_ms - begin_ms) / 1000:.1f}")
        for t in tasks
        if t.channel == channel
    )


async def run_chaos(options: ChaosOptions, log_dir: Path) -> Report:
    """The whole run, bounded in time; every process it started is stopped when it returns."""
    rng = random.Random(options.seed)
    record = Record()
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)

    async def run() -> Report:
        async with chaos_stack(
            log_dir, env=_env(options), sandbox_env=_sandbox_env(options)
        ) as stack:
            supervisor = asyncio.create_task(stack.supervise())
            try:
                clock_offset_s = time.time() - time.monotonic()
                begin_ms = time.time_ns() // 1_000_000
                await _active_phase(stack, record, options, rng)
                await _quiet_tail(stack, record, options)
                figures, bounds, details = await judge(
                    stack, record, options, begin_ms, clock_offset_s
                )
            finally:
                await _cancel([supervisor])
            disturbances = {
                "worker kills": stack.worker_kills,
                "Redis kills": len(stack.redis_down),
                "HA failovers (404 windows)": record.failovers,
                "tasks killed at Agora": record.task_kills,
                "user joins and leaves": len(record.moves),
                "fuzzed bodies": len(record.fuzz_answers),
            }
            return Report(figures, bounds, disturbances, details, log_dir)

    timeout_s = options.duration_s + options.grace_s + 3 * options.interval_s + OVERHEAD_S
    return await asyncio.wait_for(run(), timeout_s)
