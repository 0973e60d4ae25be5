"""Notifications bench: does telling the app cost recording control anything, and how soon
does a live endpoint hear of each change while another endpoint is dead?

Two runs in one process, on the stack `bench.lifecycle` uses (`autorec dev`'s children:
redis, the sandbox as Agora, `autorec webhooks`, one `autorec worker`), each opening
`--channels` channels at `--rate`/s (each empties again four opens later):

1. **baseline**: no notification endpoint (notifications go to the stream only);
2. **notifying**: two endpoints — one alive (a local receiver answering 200) and one dead
   (it accepts the connection and never answers, so each attempt to it waits out the 10 s
   timeout, the worst kind of dead).

Figures: event → Agora `start` request latency (p50, p99) in both runs and their ratio
(goal: notifying p99 ≤ baseline p99 x 1.2 + 5 ms); for the live endpoint, the delay from each
state change (the notification's `timestamp`, written with the change) to its arrival, over
every notification (goal: max ≤ 1 s); the dead endpoint's attempts.

    .venv/bin/python -m bench.notify
    .venv/bin/python -m bench.notify --channels 60 --rate 2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.lifecycle import latency_phase, percentile, running_stack
from worker.dev.redis_server import free_port

DELAY_GOAL_S = 1.0
P99_RATIO_GOAL = 1.2
P99_SLACK_MS = 5.0


@dataclass
class LiveReceiver:
    """Records each notification's arrival (wall clock) and its `timestamp`."""

    arrivals: list[tuple[str, float, float]] = field(default_factory=list)
    """(type, arrived at, written at), Unix seconds."""
    expected: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once `expected` notifications arrived."""

    async def handle(self, request: Request) -> Response:
        arrived = time.time()
        body = orjson.loads(await request.body())
        written = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()
        self.arrivals.append((body["type"], arrived, written))
        if len(self.arrivals) >= self.expected:
            self.complete.set()
        return Response(status_code=200)


@contextlib.asynccontextmanager
async def live_receiver() -> AsyncIterator[tuple[str, LiveReceiver]]:
    """A receiver answering 200 on a loopback port: (its URL, its record)."""
    port = free_port()
    record = LiveReceiver()
    app = Starlette(routes=[Route("/hooks", record.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/hooks", record
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def dead_endpoint() -> AsyncIterator[tuple[str, list[float]]]:
    """An endpoint that accepts connections and never answers: (its URL, connection times)."""
    connections: list[float] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(time.time())
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hooks", connections
    finally:
        server.close()


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]
    delays_s: list[float]
    dead_attempts: int


async def one_run(*, notify: bool, channels: int, rate: float, qps: float, log_path: Path) -> Run:
    if not notify:
        async with running_stack(qps, 30.0, log_path) as sandbox:
            latencies = await latency_phase(sandbox, channels, rate)
        return Run(latencies, [], 0)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    async with live_receiver() as (live_url, live), dead_endpoint() as (dead_url, dead):
        env = {
            "AUTOREC_NOTIFY_URLS": f"{dead_url},{live_url}",
            "AUTOREC_NOTIFY_SECRET": secret,
        }
        async with running_stack(qps, 30.0, log_path, extra_env=env) as sandbox:
            live.expected = 3 * (channels + 1)  # started, stopped, uploaded of each channel
            latencies = await latency_phase(sandbox, channels, rate)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.complete.wait(), 30)
        delays = [arrived - written for _, arrived, written in live.arrivals]
        return Run(latencies, delays, len(dead))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def table(base: Run, notifying: Run, channels: int, rate: float) -> tuple[str, bool]:
    base_p99 = percentile(base.latencies_ms, 0.99)
    with_p99 = percentile(notifying.latencies_ms, 0.99)
    max_delay = max(notifying.delays_s, default=float("inf"))
    start_ok = with_p99 <= base_p99 * P99_RATIO_GOAL + P99_SLACK_MS
    delay_ok = max_delay <= DELAY_GOAL_S
    rows = [
        ("measure", "baseline", "notifying", "goal"),
        (f"event -> start p50 ({channels} opens at {rate:g}/s)",
         f"{statistics.median(base.latencies_ms):.1f} ms",
         f"{statistics.median(notifying.latencies_ms):.1f} ms", ""),
        ("event -> start p99", f"{base_p99:.1f} ms", f"{with_p99:.1f} ms",
         f"≤ {P99_RATIO_GOAL:g} x baseline + {P99_SLACK_MS:g} ms"),
        ("p99 ratio notifying / baseline", "", f"{with_p99 / base_p99:.2f}", ""),
        ("live endpoint: notifications received", "", str(len(notifying.delays_s)), ""),
        ("live endpoint: change -> arrival p50", "",
         _ms(statistics.median(notifying.delays_s) if notifying.delays_s else None), ""),
        ("live endpoint: change -> arrival p99", "",
         _ms(percentile(notifying.delays_s, 0.99) if notifying.delays_s else None), ""),
        ("live endpoint: change -> arrival max", "",
         _ms(max_delay if notifying.delays_s else None),
         f"≤ {DELAY_GOAL_S * 1000:.0f} ms"),
        ("dead endpoint: attempts (each waits 10 s)", "", str(notifying.dead_attempts), ""),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{a:<{width}}{b:>12}{c:>12}   {d}".rstrip() for a, b, c, d in rows]
    met = start_ok and delay_ok
    return "\n".join([*lines, f"goals {'met' if met else 'NOT met'}"]), met


async def measure(*, channels: int, rate: float, qps: float, log_path: Path) -> tuple[str, bool]:
    base = await one_run(notify=False, channels=channels, rate=rate, qps=qps, log_path=log_path)
    notifying = await one_run(notify=True, channels=channels, rate=rate, qps=qps, log_path=log_path)
    return table(base, notifying, channels, rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__)
    parser.add_argument("--channels", type=int, default=60, help="channels opened per run")
    parser.add_argument("--rate", type=float, default=2.0, help="channel opens per second")
    parser.add_argument("--qps", type=float, default=10.0, help="Agora requests/s")
    parser.add_argument("--log", type=Path, default=None, help="file for the children's output")
    args = parser.parse_args(argv)
    log = args.log or Path(tempfile.gettempdir()) / "autorec-bench-notify.log"
    text, met = asyncio.run(
        measure(channels=args.channels, rate=args.rate, qps=args.qps, log_path=log)
    )
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
