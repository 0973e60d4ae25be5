"""Lifecycle bench: how soon a recording starts after its channel fills, and how fast a burst
of channel opens is all recording under Agora's request-rate limit.

The stack is what `autorec dev` runs, as child processes: a private redis-server, the
sandbox as Agora (no latency; `--qps` requests/s per sliding second, 50 concurrent
recordings), `autorec webhooks` and one `autorec worker`. Users join through the sandbox's
admin API, which emits signed NCS notifications to the webhook service, as Agora would.

- **Event → start request**: channels open one at a time at a steady low `--rate`; each
  empties again four opens later, half-way between two opens, so a few record at once. For
  each, the time from the join until Agora (the sandbox) receives the recording's first
  `start` request (one warm-up open first is not counted). Both clocks are the host's
  monotonic clock. Goal: p99 ≤ 50 ms.
- **Burst**: `--burst` channels open at once; the time until the last one's `start` succeeded,
  next to the bound the rate limit sets: an `acquire` and a `start` per channel, i.e.
  `2 * burst / qps` seconds (100 requests at 10/s = 10 s). Goal: at most 1.15 times the bound with
  no 429 answer.
- **Idle** (first, `--idle-s`, default 60): nothing happens; CPU of the worker, Redis and
  the webhook service in percent of one core. Goals: worker ≤ 0.5 %, Redis ≤ 0.3 %. Then
  the baseline, in the same run: arq's own polling worker (`arq worker.main.WorkerSettings`
  at the 5 ms poll delay `autorec worker` used before it waited for work) beside the stack,
  its CPU and Redis's (`--no-baseline` skips it).

    .venv/bin/python -m bench.lifecycle
    .venv/bin/python -m bench.lifecycle --channels 100 --rate 2 --burst 50 --qps 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.idle import SETTLE_S, measure_idle, polling_worker
from worker.dev.redis_server import free_port
from worker.dev.run import ChildSpec, Supervisor
from worker.dev.stack import DevOptions, plan_dev
from worker.settings import Settings

P99_GOAL_MS = 50.0
BURST_GOAL_RATIO = 1.15
IDLE_WORKER_GOAL_PCT = 0.5
IDLE_REDIS_GOAL_PCT = 0.3
REQUESTS_PER_OPEN = 2  # acquire + start
SETTLE_TIMEOUT_S = 60.0
POLL_S = 0.05
#: In the latency run each channel stays open while this many later channels open.
HOLD_OPENS = 4
#: Opens not counted: the first one also sets up connections and loads scripts.
WARMUP_OPENS = 1
#: Variables of the caller's environment that would point the stack elsewhere.
_FOREIGN_PREFIXES = ("AGORA_", "AUTOREC_", "STORAGE_", "SANDBOX_", "REDIS_URL")


@dataclass(frozen=True)
class Report:
    """What one bench run measured."""

    qps: float
    latency_samples: int
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    over_goal: int
    """Opens whose start request came later than the p99 goal."""
    burst: int
    burst_s: float
    rejected_429: int
    limit_violations: int
    idle: Idle | None = None

    @property
    def bound_s(self) -> float:
        """The time the rate limit alone needs for the burst's requests."""
        return REQUESTS_PER_OPEN * self.burst / self.qps

    @property
    def ratio(self) -> float:
        """Burst time over its bound."""
        return self.burst_s / self.bound_s

    def table(self) -> str:
        """The printed result."""
        n, rate = self.latency_samples, self.rate_per_s
        burst_goal = f"≤ {BURST_GOAL_RATIO:g} x bound"
        requests = REQUESTS_PER_OPEN * self.burst
        rows = [
            ("measure", "value", "goal"),
            (f"event -> start request p50 ({n} opens at {rate:g}/s)", f"{self.p50_ms:.1f} ms", ""),
            (f"event -> start request p99 ({n} opens at {rate:g}/s)", f"{self.p99_ms:.1f} ms",
             f"≤ {P99_GOAL_MS:g} ms"),
            ("event -> start request max", f"{self.max_ms:.1f} ms", ""),
            (f"opens slower than {P99_GOAL_MS:g} ms", f"{self.over_goal} of {n}", ""),
            (f"burst of {self.burst} opens: all recording", f"{self.burst_s:.2f} s", ""),
            (f"bound: {requests} requests at {self.qps:g}/s", f"{self.bound_s:.2f} s", ""),
            ("burst / bound", f"{self.ratio:.3f}", burst_goal),
            ("429 answers (whole run)", str(self.rejected_429), "0"),
            ("limit violations at Agora", str(self.limit_violations), "0"),
        ]  # fmt: skip
        if self.idle is not None:
            rows += self.idle.rows()
        width = max(len(row[0]) for row in rows) + 2
        lines = [f"{name:<{width}}{value:>12}   {goal}".rstrip() for name, value, goal in rows]
        verdict = "met" if self.goals_met else "NOT met"
        return "\n".join([*lines, f"goals {verdict}"])

    @property
    def goals_met(self) -> bool:
        """Whether every goal of the module docstring holds."""
        return (
            self.p99_ms <= P99_GOAL_MS
            and self.ratio <= BURST_GOAL_RATIO
            and self.rejected_429 == 0
            and self.limit_violations == 0
            and (self.idle is None or self.idle.goals_met)
        )


@dataclass(frozen=True)
class Idle:
    """CPU of the stack's processes, in percent of one core, over a window with no event;
    the baseline is arq's polling worker (5 ms) beside it, measured in the same run."""

    seconds: float
    worker_pct: float
    redis_pct: float
    webhooks_pct: float
    baseline_worker_pct: float | None = None
    baseline_redis_pct: float | None = None

    def rows(self) -> list[tuple[str, str, str]]:
        """The idle rows of the printed table."""
        s = f"{self.seconds:g} s"
        rows = [
            (f"idle worker CPU ({s}, waits for work)", f"{self.worker_pct:.2f} %",
             f"≤ {IDLE_WORKER_GOAL_PCT:g} %"),
            (f"idle Redis CPU ({s})", f"{self.redis_pct:.2f} %", f"≤ {IDLE_REDIS_GOAL_PCT:g} %"),
            (f"idle webhook service CPU ({s})", f"{self.webhooks_pct:.2f} %", ""),
        ]  # fmt: skip
        if self.baseline_worker_pct is not None and self.baseline_redis_pct is not None:
            ratio = self.worker_pct / self.baseline_worker_pct if self.baseline_worker_pct else 0.0
            rows += [
                (f"baseline: arq's polling worker (5 ms) CPU ({s})",
                 f"{self.baseline_worker_pct:.2f} %", ""),
                ("baseline: Redis CPU beside it", f"{self.baseline_redis_pct:.2f} %", ""),
                ("idle worker CPU / baseline", f"{ratio:.3f}", ""),
            ]  # fmt: skip
        return rows

    @property
    def goals_met(self) -> bool:
        """Whether the worker and Redis stay under their idle goals."""
        return self.worker_pct <= IDLE_WORKER_GOAL_PCT and self.redis_pct <= IDLE_REDIS_GOAL_PCT


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile of `values`."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class Sandbox:
    """The few admin calls the bench needs (`/_sandbox/...`, docs/sandbox.md)."""

    def __init__(self, url: str) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=10.0)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str) -> Any:
        response = await self._http.get(path)
        response.raise_for_status()
        return response.json()

    async def _post(self, path: str, body: Mapping[str, Any]) -> None:
        response = await self._http.post(path, json=dict(body))
        response.raise_for_status()

    async def join(self, channel: str, uid: int) -> None:
        await self._post(f"/_sandbox/channels/{channel}/join", {"uid": uid})

    async def leave(self, channel: str, uid: int) -> None:
        await self._post(f"/_sandbox/channels/{channel}/leave", {"uid": uid})

    async def stats(self) -> dict[str, int]:
        stats: dict[str, int] = await self._get("/_sandbox/stats")
        return stats

    async def first_starts(self, channels: Iterable[str]) -> dict[str, float]:
        """Channel → arrival time (monotonic s) of the first `start` of its recording."""
        wanted = set(channels)
        resources = {
            task["resource_id"]: task["cname"]
            for task in await self._get("/_sandbox/recordings")
            if task["cname"] in wanted
        }
        first: dict[str, float] = {}
        for call in await self._get("/_sandbox/calls"):
            if call["endpoint"] != "start":
                continue
            for resource_id, channel in resources.items():
                if f"/resourceid/{resource_id}/" in call["path"]:
                    first[channel] = min(first.get(channel, call["t"]), call["t"])
        return first

    async def last_successful_start(self, channels: Iterable[str]) -> float:
        """Arrival time of the last successful `start` among the channels' recordings."""
        wanted = set(channels)
        resources = [
            task["resource_id"]
            for task in await self._get("/_sandbox/recordings")
            if task["cname"] in wanted
        ]
        times = [
            call["t"]
            for call in await self._get("/_sandbox/calls")
            if call["endpoint"] == "start"
            and call["status"] == 200
            and any(f"/resourceid/{r}/" in call["path"] for r in resources)
        ]
        return float(max(times))

    async def running(self, channels: Iterable[str]) -> int:
        wanted = set(channels)
        return sum(
            1
            for task in await self._get("/_sandbox/recordings")
            if task["cname"] in wanted and task["phase"] == "running"
        )


async def until(condition: Any, *, what: str, timeout_s: float, poll_s: float = POLL_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(poll_s)


async def _sleep_until(monotonic_s: float) -> None:
    delay = monotonic_s - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _child_env(
    qps: float, reconcile_interval_s: float, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    env.update(
        {
            "AUTOREC_MAX_API_QPS": f"{qps:g}",
            "AUTOREC_RECONCILE_INTERVAL_S": f"{reconcile_interval_s:g}",
            "AUTOREC_MAX_RECORDINGS": "50",
            "AUTOREC_EMPTY_GRACE_S": "0.5",
            "AUTOREC_LOG_LEVEL": "INFO",
            "SANDBOX_QPS_LIMIT": f"{qps:g}",
            "SANDBOX_MAX_CONCURRENT": "50",
            **(extra or {}),
        }
    )
    return env


@dataclass
class RunningStack:
    """A running stack: the sandbox's admin API, the children's pids, the worker's env."""

    sandbox: Sandbox
    supervisor: Supervisor
    worker_env: Mapping[str, str]

    @property
    def pids(self) -> dict[str, int]:
        """Process id of each child (redis, sandbox, webhooks, worker)."""
        return self.supervisor.pids


@contextlib.asynccontextmanager
async def running_stack(
    qps: float,
    reconcile_interval_s: float,
    log_path: Path,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Sandbox]:
    """`autorec dev`'s children (redis, sandbox, webhooks, worker) until the block exits;
    `extra_env` adds to (or overrides) their environment."""
    async with running_stack_handle(qps, reconcile_interval_s, log_path, extra_env) as stack:
        yield stack.sandbox


@contextlib.asynccontextmanager
async def running_stack_handle(
    qps: float,
    reconcile_interval_s: float,
    log_path: Path,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningStack]:
    """`running_stack`, giving the children's pids and the worker's environment too."""
    with tempfile.TemporaryDirectory(prefix="autorec-bench-") as data_dir:
        stack = plan_dev(
            Settings.model_construct(),
            DevOptions(port=free_port(), sandbox=True),
            base_env=_child_env(qps, reconcile_interval_s, extra_env),
            data_dir=Path(data_dir),
        )
        sandbox_url = next(e.address for e in stack.endpoints if e.name == "sandbox")
        worker_env = next(c.env for c in stack.children if c.name == "worker") or {}
        async with supervised(stack.children, log_path, grace_s=5.0) as supervisor:
            sandbox = Sandbox(sandbox_url)
            try:
                yield RunningStack(sandbox, supervisor, worker_env)
            finally:
                await sandbox.aclose()


@contextlib.asynccontextmanager
async def supervised(
    children: Sequence[ChildSpec], log_path: Path, *, grace_s: float
) -> AsyncIterator[Supervisor]:
    """`children` started (and ready) under a Supervisor writing to `log_path`, stopped when
    the block exits."""
    with log_path.open("w", encoding="utf-8") as log:
        supervisor = Supervisor(children, out=log, grace_s=grace_s, color=False)
        ready = asyncio.Event()
        run = asyncio.create_task(supervisor.run(on_ready=ready.set, handle_signals=False))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({run, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if run.done():
            raise RuntimeError(f"the stack did not start; see {log_path}")
        try:
            yield supervisor
        finally:
            supervisor.request_stop()
            await run


async def latency_phase(sandbox: Sandbox, channels: int, rate: float) -> list[float]:
    """Open a channel every 1/rate s; each stays open for HOLD_OPENS opens, then empties."""
    names = [f"lat-{n}" for n in range(WARMUP_OPENS + channels)]
    joined: dict[str, float] = {}
    began = time.monotonic()
    for n, name in enumerate(names):
        await _sleep_until(began + n / rate)
        joined[name] = time.monotonic()
        await sandbox.join(name, 1)
        if n >= HOLD_OPENS:
            # Half a period later, so stops (after the grace period) fall between opens.
            await _sleep_until(began + (n + 0.5) / rate)
            await sandbox.leave(names[n - HOLD_OPENS], 1)

    async def all_started() -> bool:
        return len(await sandbox.first_starts(names)) == len(names)

    await until(all_started, what="every channel's start", timeout_s=SETTLE_TIMEOUT_S)
    starts = await sandbox.first_starts(names)
    latencies_ms = [(starts[name] - joined[name]) * 1000 for name in names[WARMUP_OPENS:]]
    for name in names[-HOLD_OPENS:]:
        await sandbox.leave(name, 1)

    async def all_stopped() -> bool:
        return (await sandbox.stats())["active"] == 0

    await until(all_stopped, what="every recording to stop", timeout_s=SETTLE_TIMEOUT_S)
    return latencies_ms


async def _burst_phase(sandbox: Sandbox, burst: int, qps: float) -> float:
    names = [f"burst-{n}" for n in range(burst)]
    began = time.monotonic()
    await asyncio.gather(*(sandbox.join(name, 1) for name in names))

    async def all_running() -> bool:
        return await sandbox.running(names) == burst

    timeout_s = 3 * REQUESTS_PER_OPEN * burst / qps + SETTLE_TIMEOUT_S
    # Slow polling: the end time comes from the sandbox's call log, not from the poll.
    await until(all_running, what="the whole burst to record", timeout_s=timeout_s, poll_s=0.25)
    return await sandbox.last_successful_start(names) - began


async def idle_phase(
    stack: RunningStack, seconds: float, log_path: Path, *, baseline: bool
) -> Idle:
    """The stack's CPU while nothing happens, then (with `baseline`) arq's polling worker's."""
    await asyncio.sleep(SETTLE_S)  # the startup's reconcile pass and connections
    pids = stack.pids
    cost = await measure_idle(
        {name: pids[name] for name in ("worker", "redis", "webhooks")}, seconds
    )
    if not baseline:
        return Idle(seconds, cost["worker"], cost["redis"], cost["webhooks"])
    async with polling_worker(stack.worker_env, log_path) as polling_pid:
        polled = await measure_idle({"worker": polling_pid, "redis": pids["redis"]}, seconds)
    return Idle(
        seconds, cost["worker"], cost["redis"], cost["webhooks"], polled["worker"], polled["redis"]
    )


async def measure(
    *, channels: int = 100, rate: float = 2.0, burst: int = 50, qps: float = 10.0,
    reconcile_interval_s: float = 30.0, log_path: Path | None = None,
    idle_s: float = 0.0, baseline: bool = True,
) -> Report:  # fmt: skip
    """Run the phases on a fresh stack and return the figures: idle (when `idle_s` > 0),
    latency, burst."""
    if log_path is None:
        log_path = Path(tempfile.gettempdir()) / "autorec-bench-lifecycle.log"
    async with running_stack_handle(qps, reconcile_interval_s, log_path) as stack:
        sandbox = stack.sandbox
        idle = (
            await idle_phase(stack, idle_s, log_path.with_suffix(".baseline.log"),
                             baseline=baseline)
            if idle_s > 0 else None
        )  # fmt: skip
        latencies_ms = await latency_phase(sandbox, channels, rate)
        # Let the stops' requests leave the rate window before the burst starts.
        await asyncio.sleep(REQUESTS_PER_OPEN * 1.0)
        burst_s = await _burst_phase(sandbox, burst, qps)
        stats = await sandbox.stats()
    return Report(
        qps=qps,
        latency_samples=len(latencies_ms),
        rate_per_s=rate,
        p50_ms=statistics.median(latencies_ms),
        p99_ms=percentile(latencies_ms, 0.99),
        max_ms=max(latencies_ms),
        over_goal=sum(1 for latency in latencies_ms if latency > P99_GOAL_MS),
        burst=burst,
        burst_s=burst_s,
        rejected_429=stats["rejected_429"],
        limit_violations=stats["limit_violations"],
        idle=idle,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__)
    parser.add_argument("--channels", type=int, default=100, help="channels of the latency run")
    parser.add_argument("--rate", type=float, default=2.0, help="channel opens per second")
    parser.add_argument("--burst", type=int, default=50, help="channels opened at once")
    parser.add_argument("--qps", type=float, default=10.0, help="Agora requests/s (both sides)")
    parser.add_argument(
        "--reconcile-interval-s", type=float, default=30.0,
        help="AUTOREC_RECONCILE_INTERVAL_S of the worker (default 30, as in production)",
    )  # fmt: skip
    parser.add_argument("--log", type=Path, default=None, help="file for the children's output")
    parser.add_argument(
        "--idle-s", type=float, default=60.0,
        help="seconds of the idle phase (0 skips it; default 60)",
    )  # fmt: skip
    parser.add_argument(
        "--no-baseline", action="store_true",
        help="skip the idle baseline (arq's polling worker beside the stack)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    report = asyncio.run(
        measure(
            channels=args.channels, rate=args.rate, burst=args.burst, qps=args.qps,
            reconcile_interval_s=args.reconcile_interval_s, log_path=args.log,
            idle_s=args.idle_s, baseline=not args.no_baseline,
        )
    )  # fmt: skip
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
