"""Scale bench: how cost grows with work, against the sandbox, with 1, 2 and 4 workers.

For each worker count a fresh stack is started — what `autorec dev` runs (a private
redis-server, the sandbox as Agora, `autorec webhooks`) with N `autorec worker` processes —
with `AUTOREC_MAX_RECORDINGS=500` and `AUTOREC_MAX_API_QPS=50` on both sides (the sandbox
refuses the 51st request in a second with 429 and counts starts beyond 500). Users join and
leave through the sandbox's admin API, which sends signed NCS notifications to the webhook
service, as Agora would. The phases:

1. **Idle**: nothing happens for `--idle-s`; CPU of each worker.
2. **Track**: `--channels` live-profile channels each get one audience member (tracked, not
   recorded), `--churn` joins per second. Redis memory per tracked channel (used_memory
   growth without the events stream, which is trimmed at AUTOREC_STREAM_MAXLEN).
3. **Churn**: audience members join and leave the tracked channels at `--churn` events/s for
   `--churn-s` while, in other channels, one host opens every 0.5 s and leaves four opens
   later: event → start request p50/p99 under that load (Agora's clock: the sandbox's
   arrival time), and CPU seconds per 1,000 events of the workers (their events consumer
   and jobs), the webhook service and Redis.
4. **Burst**: `--burst` tracked channels get a host at once; the time until the last one's
   `start` succeeded next to the bound the rate limit sets (an `acquire` and a `start` per
   channel: 1,000 requests at 50/s = 20 s), and 429 answers. Redis memory per recording.
5. **Steady**: after one reconcile interval (30 s, the default) the recordings run for
   `--steady-s` with nothing else happening: Agora requests the periodic reconcile spends
   (queries, user lists, channel lists) per recording-hour.

    .venv/bin/python -m bench.scale
    .venv/bin/python -m bench.scale --workers 1 --channels 100 --burst 50 --churn 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis

from bench.idle import measure_idle
from bench.lifecycle import percentile, supervised, until
from worker import keys
from worker.dev.readiness import http_ready
from worker.dev.redis_server import free_port
from worker.dev.run import ChildSpec, Supervisor
from worker.dev.stack import DevOptions, plan_dev
from worker.settings import Settings

BURST_GOAL_RATIO = 1.15
REQUESTS_PER_OPEN = 2  # acquire + start
#: The Agora endpoints a start or a stop spends; every other request is a periodic check.
LIFECYCLE_ENDPOINTS = frozenset({"acquire", "start", "stop"})
#: Opens per second of the latency channels during the churn, and how long each stays open.
OPEN_RATE = 2.0
HOLD_OPENS = 4
SETTLE_S = 3.0
#: AUTOREC_RECONCILE_INTERVAL_S of the stack: the production default.
RECONCILE_INTERVAL_S = 30.0
SETTLE_TIMEOUT_S = 120.0
#: Admin requests to the sandbox in flight at once.
CONCURRENCY = 64
#: The events stream (AUTOREC_EVENTS_STREAM's default).
EVENTS_STREAM = Settings.model_fields["autorec_events_stream"].default
_FOREIGN_PREFIXES = ("AGORA_", "AUTOREC_", "STORAGE_", "SANDBOX_", "REDIS_URL")


@dataclass(frozen=True)
class Run:
    """What one worker count measured."""

    workers: int
    channels: int
    churn_rate: float
    idle_cpu_pct: list[float]
    bytes_per_channel: float
    stream_bytes_per_event: float
    latency_ms: list[float]
    churn_events: int
    churn_s: float
    cpu_s: dict[str, float]
    """CPU seconds of the churn phase: workers (all), webhooks, redis."""
    burst: int
    qps: float
    burst_s: float
    bytes_per_recording: float
    steady_s: float
    recordings: int
    periodic_requests: Counter[str]
    rejected_429: int
    limit_violations: int

    @property
    def bound_s(self) -> float:
        return REQUESTS_PER_OPEN * self.burst / self.qps

    @property
    def ratio(self) -> float:
        return self.burst_s / self.bound_s

    def cpu_per_1k(self, name: str) -> float:
        return 1000 * self.cpu_s[name] / self.churn_events if self.churn_events else 0.0

    @property
    def periodic_per_recording_hour(self) -> float:
        hours = self.recordings * self.steady_s / 3600
        return sum(self.periodic_requests.values()) / hours if hours else 0.0

    @property
    def goals_met(self) -> bool:
        return self.ratio <= BURST_GOAL_RATIO and self.rejected_429 == 0


def table(runs: Sequence[Run]) -> str:
    """The printed result: one column per worker count."""
    first = runs[0]
    rows: list[tuple[str, ...]] = [
        ("measure", *(f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in runs)),
        ("idle CPU per worker (mean / max)",
         *(f"{statistics.mean(r.idle_cpu_pct):.2f} / {max(r.idle_cpu_pct):.2f} %" for r in runs)),
        (f"Redis memory per tracked channel ({first.channels})",
         *(f"{r.bytes_per_channel:,.0f} B" for r in runs)),
        ("events stream per event (trimmed at MAXLEN)",
         *(f"{r.stream_bytes_per_event:,.0f} B" for r in runs)),
        (f"event -> start p50 (churn {first.churn_rate:g} ev/s)",
         *(f"{statistics.median(r.latency_ms):.1f} ms" for r in runs)),
        (f"event -> start p99 (churn {first.churn_rate:g} ev/s)",
         *(f"{percentile(r.latency_ms, 0.99):.1f} ms" for r in runs)),
        ("events in the churn phase", *(f"{r.churn_events} in {r.churn_s:.0f} s" for r in runs)),
        ("CPU s per 1,000 events: workers", *(f"{r.cpu_per_1k('workers'):.3f}" for r in runs)),
        ("CPU s per 1,000 events: webhook service",
         *(f"{r.cpu_per_1k('webhooks'):.3f}" for r in runs)),
        ("CPU s per 1,000 events: Redis", *(f"{r.cpu_per_1k('redis'):.3f}" for r in runs)),
        (f"burst of {first.burst} opens: all recording", *(f"{r.burst_s:.2f} s" for r in runs)),
        (f"bound: {REQUESTS_PER_OPEN * first.burst} requests at {first.qps:g}/s",
         *(f"{r.bound_s:.2f} s" for r in runs)),
        (f"burst / bound (goal ≤ {BURST_GOAL_RATIO:g})", *(f"{r.ratio:.3f}" for r in runs)),
        ("Redis memory per recording", *(f"{r.bytes_per_recording:,.0f} B" for r in runs)),
        (f"periodic Agora requests per recording-hour (interval {RECONCILE_INTERVAL_S:g} s)",
         *(f"{r.periodic_per_recording_hour:.1f}" for r in runs)),
        ("  of which (steady window)",
         *(", ".join(f"{k} {v}" for k, v in sorted(r.periodic_requests.items())) or "none"
           for r in runs)),
        ("429 answers (whole run)", *(str(r.rejected_429) for r in runs)),
        ("starts beyond the limit at Agora", *(str(r.limit_violations) for r in runs)),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    verdict = "met" if all(r.goals_met for r in runs) else "NOT met"
    return "\n".join([*lines, f"burst goal (≤ {BURST_GOAL_RATIO:g} x bound, no 429) {verdict}"])


# --- the stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    """A running stack: sandbox admin client, Redis client, children's pids."""

    http: httpx.AsyncClient
    redis: aioredis.Redis[bytes]
    supervisor: Supervisor
    workers: list[str]

    @property
    def pids(self) -> dict[str, int]:
        return self.supervisor.pids

    async def post(self, path: str, body: Mapping[str, Any]) -> None:
        response = await self.http.post(path, json=dict(body))
        response.raise_for_status()

    async def get(self, path: str) -> Any:
        response = await self.http.get(path)
        response.raise_for_status()
        return response.json()

    async def join(
        self, channel: str, uid: int, *, live: bool = False, audience: bool = False
    ) -> None:
        """A host (or with `audience` an audience member of a live-profile channel) joins."""
        body: dict[str, Any] = {"uid": uid}
        if live or audience:
            body["profile"] = "live"
        if audience:
            body["role"] = "audience"
        await self.post(f"/_sandbox/channels/{channel}/join", body)

    async def leave(self, channel: str, uid: int) -> None:
        await self.post(f"/_sandbox/channels/{channel}/leave", {"uid": uid})

    async def used_memory(self) -> int:
        info = await self.redis.info("memory")
        return int(info["used_memory"])

    async def stream_bytes(self) -> int:
        usage = await self.redis.memory_usage(EVENTS_STREAM, samples=0)
        return int(usage or 0)

    async def stream_length(self) -> int:
        return int(await self.redis.xlen(EVENTS_STREAM))

    async def consumed(self) -> bool:
        """Whether every event in the stream has been read and acknowledged."""
        groups = await self.redis.xinfo_groups(EVENTS_STREAM)
        return bool(groups) and all(
            not group["pending"] and not group.get("lag") for group in groups
        )


def _child_env(qps: float, max_recordings: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    env.update(
        {
            "AUTOREC_MAX_API_QPS": f"{qps:g}",
            "AUTOREC_MAX_RECORDINGS": str(max_recordings),
            "AUTOREC_EMPTY_GRACE_S": "0.5",
            "AUTOREC_RECONCILE_INTERVAL_S": f"{RECONCILE_INTERVAL_S:g}",
            "AUTOREC_LOG_LEVEL": "INFO",
            "SANDBOX_QPS_LIMIT": f"{qps:g}",
            "SANDBOX_MAX_CONCURRENT": str(max_recordings),
        }
    )
    return env


def _workers(spec: ChildSpec, count: int) -> list[ChildSpec]:
    """`count` copies of the dev stack's worker, each with a metrics port of its own."""
    copies = []
    for n in range(1, count + 1):
        port = free_port()
        env = {
            **(spec.env or {}),
            "AUTOREC_WORKER_METRICS_PORT": str(port),
            "AUTOREC_CONSUMER_NAME": f"bench-worker-{n}",
        }
        ready = http_ready(f"http://127.0.0.1:{port}/metrics")
        copies.append(dataclasses.replace(spec, name=f"worker-{n}", env=env, ready_check=ready))
    return copies


@contextlib.asynccontextmanager
async def running_stack(
    workers: int, qps: float, max_recordings: int, log_path: Path
) -> AsyncIterator[Stack]:
    """Redis, the sandbox, the webhook service and `workers` workers until the block exits."""
    with tempfile.TemporaryDirectory(prefix="autorec-bench-") as data_dir:
        plan = plan_dev(
            Settings.model_construct(),
            DevOptions(port=free_port(), sandbox=True),
            base_env=_child_env(qps, max_recordings),
            data_dir=Path(data_dir),
        )
        children: list[ChildSpec] = []
        for child in plan.children:
            children += _workers(child, workers) if child.name == "worker" else [child]
        sandbox_url = next(e.address for e in plan.endpoints if e.name == "sandbox")
        redis_url = next(c.env for c in children if c.name == "webhooks" and c.env)["REDIS_URL"]
        async with supervised(children, log_path, grace_s=10.0) as supervisor:
            limits = httpx.Limits(max_connections=CONCURRENCY)
            http = httpx.AsyncClient(base_url=sandbox_url, timeout=30.0, limits=limits)
            redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(redis_url)
            names = [f"worker-{n}" for n in range(1, workers + 1)]
            try:
                yield Stack(http, redis, supervisor, names)
            finally:
                await http.aclose()
                await redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5


def _cpu_s(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


# --- the phases --------------------------------------------------------------------------


def tracked(n: int) -> str:
    return f"t-{n}"


async def _paced(rate: float, actions: Iterable[Any], stop: asyncio.Event | None = None) -> int:
    """Run the coroutine factories of `actions` at `rate` per second (each in its own task,
    at most CONCURRENCY in flight); the number started."""
    began = time.monotonic()
    gate = asyncio.Semaphore(CONCURRENCY)
    tasks: set[asyncio.Task[None]] = set()

    async def one(action: Any) -> None:
        async with gate:
            await action()

    count = 0
    for action in actions:
        if stop is not None and stop.is_set():
            break
        delay = began + count / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        count += 1
        task = asyncio.create_task(one(action))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return count


async def track_phase(stack: Stack, channels: int, rate: float) -> tuple[float, float]:
    """One audience member in each tracked channel; bytes per channel (without the stream)
    and stream bytes per event."""
    memory, stream = await stack.used_memory(), await stack.stream_bytes()
    length = await stack.stream_length()
    actions = [(lambda n=n: stack.join(tracked(n), 1, audience=True)) for n in range(channels)]
    await _paced(rate, actions)

    async def all_tracked() -> bool:
        return await stack.redis.zcard(keys.CHANNELS) >= channels and await stack.consumed()

    await until(all_tracked, what="every channel tracked", timeout_s=SETTLE_TIMEOUT_S)
    grown = await stack.used_memory() - memory
    stream_grown = await stack.stream_bytes() - stream
    events = await stack.stream_length() - length
    return (grown - stream_grown) / channels, stream_grown / max(1, events)


async def churn(stack: Stack, channels: int, rate: float, stop: asyncio.Event) -> int:
    """Audience members join and leave tracked channels at `rate` events/s until `stop`."""
    rng = random.Random(7)
    present: list[tuple[str, int]] = []
    uids = itertools.count(1000)

    async def join(channel: str, uid: int) -> None:
        await stack.join(channel, uid, audience=True)
        present.append((channel, uid))  # only a member whose join is done may leave

    def actions() -> Iterable[Any]:
        while True:
            if present and (len(present) >= channels // 4 or rng.random() < 0.5):
                channel, uid = present.pop(rng.randrange(len(present)))
                yield lambda c=channel, u=uid: stack.leave(c, u)
            else:
                channel, uid = tracked(rng.randrange(channels)), next(uids)
                yield lambda c=channel, u=uid: join(c, u)

    return await _paced(rate, actions(), stop)


async def latency_opens(stack: Stack, seconds: float) -> dict[str, float]:
    """Open a channel every 1/OPEN_RATE s for `seconds`, each left HOLD_OPENS opens later;
    channel → monotonic time of its host's join."""
    names = [f"lat-{n}" for n in range(int(seconds * OPEN_RATE))]
    joined: dict[str, float] = {}
    began = time.monotonic()
    for n, name in enumerate(names):
        delay = began + n / OPEN_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        joined[name] = time.monotonic()
        await stack.join(name, 1)
        if n >= HOLD_OPENS:
            await stack.leave(names[n - HOLD_OPENS], 1)
    await asyncio.sleep(HOLD_OPENS / OPEN_RATE)  # the last ones stay open as long
    for name in names[-HOLD_OPENS:]:
        await stack.leave(name, 1)
    return joined


async def first_starts(stack: Stack, channels: Iterable[str]) -> dict[str, float]:
    """Channel → the sandbox's arrival time of the first `start` of its recording."""
    wanted = set(channels)
    resources = {
        task["resource_id"]: task["cname"]
        for task in await stack.get("/_sandbox/recordings")
        if task["cname"] in wanted
    }
    first: dict[str, float] = {}
    for call in await stack.get("/_sandbox/calls"):
        if call["endpoint"] != "start":
            continue
        resource = call["path"].split("/resourceid/")[1].split("/")[0]
        channel = resources.get(resource)
        if channel is not None:
            first[channel] = min(first.get(channel, call["t"]), call["t"])
    return first


async def churn_phase(
    stack: Stack, channels: int, rate: float, seconds: float
) -> tuple[list[float], int, float, dict[str, float]]:
    """Churn with latency opens; latencies, events sent, duration, CPU seconds."""
    pids = stack.pids
    groups = {
        "workers": [pids[name] for name in stack.workers],
        "webhooks": [pids["webhooks"]],
        "redis": [pids["redis"]],
    }
    before = {name: _cpu_s(group) for name, group in groups.items()}
    began = time.monotonic()
    stop = asyncio.Event()
    churning = asyncio.create_task(churn(stack, channels, rate, stop))
    joined = await latency_opens(stack, seconds)
    stop.set()
    churned = await churning

    async def all_consumed() -> bool:
        return await stack.consumed()

    await until(all_consumed, what="the churn consumed", timeout_s=SETTLE_TIMEOUT_S)
    elapsed = time.monotonic() - began
    cpu = {name: _cpu_s(group) - before[name] for name, group in groups.items()}

    async def all_started() -> bool:
        return len(await first_starts(stack, joined)) == len(joined)

    await until(all_started, what="every latency channel's start", timeout_s=SETTLE_TIMEOUT_S)
    starts = await first_starts(stack, joined)
    latencies = [(starts[name] - joined[name]) * 1000 for name in joined]

    async def all_stopped() -> bool:
        return int((await stack.get("/_sandbox/stats"))["active"]) == 0

    await until(
        all_stopped, what="the latency channels' recordings to stop", timeout_s=SETTLE_TIMEOUT_S
    )
    events = churned + 2 * len(joined)
    return latencies, events, elapsed, cpu


async def burst_phase(stack: Stack, burst: int, qps: float) -> tuple[float, float]:
    """`burst` tracked channels get a host at once; seconds until all record, bytes per
    recording (without the events stream)."""
    await asyncio.sleep(REQUESTS_PER_OPEN)  # the stops' requests leave the rate window
    memory, stream = await stack.used_memory(), await stack.stream_bytes()
    names = [tracked(n) for n in range(burst)]
    began = time.monotonic()
    await _paced(1e9, [(lambda c=c: stack.join(c, 2, live=True)) for c in names])

    async def all_running() -> bool:
        # The stats, not the task list: a poll must not load the sandbox (its own delays
        # would bunch requests together as it counts them).
        return int((await stack.get("/_sandbox/stats"))["active"]) >= burst

    timeout_s = 3 * REQUESTS_PER_OPEN * burst / qps + 60
    await until(all_running, what="the whole burst to record", timeout_s=timeout_s, poll_s=1.0)
    wanted = set(names)
    resources = {
        t["resource_id"] for t in await stack.get("/_sandbox/recordings") if t["cname"] in wanted
    }
    last = max(
        call["t"]
        for call in await stack.get("/_sandbox/calls")
        if call["endpoint"] == "start"
        and call["status"] == 200
        and call["path"].split("/resourceid/")[1].split("/")[0] in resources
    )

    async def settled() -> bool:
        return await stack.consumed()

    await until(settled, what="the burst's events consumed", timeout_s=SETTLE_TIMEOUT_S)
    grown = await stack.used_memory() - memory - (await stack.stream_bytes() - stream)
    return last - began, grown / burst


async def steady_phase(stack: Stack, seconds: float, settle_s: float) -> tuple[Counter[str], int]:
    """Agora requests other than starts and stops while the recordings run for `seconds`,
    after `settle_s` (the confirmations that follow each start are not periodic)."""
    await asyncio.sleep(settle_s)
    began = time.monotonic()
    await asyncio.sleep(seconds)
    ended = time.monotonic()
    calls = await stack.get("/_sandbox/calls")
    spent = Counter(
        call["endpoint"]
        for call in calls
        if began <= call["t"] < ended and call["endpoint"] not in LIFECYCLE_ENDPOINTS
    )
    running = int((await stack.get("/_sandbox/stats"))["active"])
    return spent, running


async def measure(
    *, workers: int, channels: int = 1000, churn_rate: float = 100.0, churn_s: float = 30.0,
    burst: int = 500, qps: float = 50.0, idle_s: float = 30.0, steady_s: float = 90.0,
    settle_s: float = RECONCILE_INTERVAL_S, log_path: Path | None = None,
) -> Run:  # fmt: skip
    """All phases on a fresh stack with `workers` workers; the steady window begins
    `settle_s` after the burst."""
    if burst > channels:
        raise ValueError("--burst cannot exceed --channels (the burst opens tracked channels)")
    if log_path is None:
        log_path = Path(tempfile.gettempdir()) / f"autorec-bench-scale-{workers}.log"
    async with running_stack(workers, qps, burst, log_path) as stack:
        await asyncio.sleep(SETTLE_S)
        pids = stack.pids
        idle = await measure_idle({name: pids[name] for name in stack.workers}, idle_s)
        per_channel, per_event = await track_phase(stack, channels, churn_rate)
        latencies, events, elapsed, cpu = await churn_phase(stack, channels, churn_rate, churn_s)
        burst_s, per_recording = await burst_phase(stack, burst, qps)
        spent, running = await steady_phase(stack, steady_s, settle_s)
        stats = await stack.get("/_sandbox/stats")
    return Run(
        workers=workers,
        channels=channels,
        churn_rate=churn_rate,
        idle_cpu_pct=list(idle.values()),
        bytes_per_channel=per_channel,
        stream_bytes_per_event=per_event,
        latency_ms=latencies,
        churn_events=events,
        churn_s=elapsed,
        cpu_s=cpu,
        burst=burst,
        qps=qps,
        burst_s=burst_s,
        bytes_per_recording=per_recording,
        steady_s=steady_s,
        recordings=running,
        periodic_requests=spent,
        rejected_429=int(stats["rejected_429"]),
        limit_violations=int(stats["limit_violations"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="worker counts, one stack each (default 1 2 4)",
    )
    parser.add_argument("--channels", type=int, default=1000, help="tracked channels")
    parser.add_argument("--churn", type=float, default=100.0, help="churn events per second")
    parser.add_argument("--churn-s", type=float, default=30.0, help="seconds of churn")
    parser.add_argument(
        "--burst",
        type=int,
        default=500,
        help="channels opened at once (also AUTOREC_MAX_RECORDINGS)",
    )
    parser.add_argument("--qps", type=float, default=50.0, help="Agora requests/s (both sides)")
    parser.add_argument("--idle-s", type=float, default=30.0, help="seconds of the idle phase")
    parser.add_argument(
        "--steady-s",
        type=float,
        default=90.0,
        help="seconds the recordings run to count periodic requests",
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="folder for the stacks' logs")
    args = parser.parse_args(argv)  # fmt: skip
    runs = []
    for count in args.workers:
        log = args.log_dir / f"scale-{count}.log" if args.log_dir else None
        runs.append(
            asyncio.run(
                measure(
                    workers=count, channels=args.channels, churn_rate=args.churn,
                    churn_s=args.churn_s, burst=args.burst, qps=args.qps, idle_s=args.idle_s,
                    steady_s=args.steady_s, log_path=log,
                )
            )
        )  # fmt: skip
        print(f"{count} worker(s) done", file=sys.stderr)
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
