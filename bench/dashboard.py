"""Dashboard bench: server-side render time of the overview with many channels in Redis.

Puts `--channels` tracked channels (each with a user in it, through the occupancy script),
`--recordings` of them recording (slot lease and confirmed session), the rest waiting for a
slot, finished recordings in the catalog, a full recent-failures list and pending
notifications into a private Redis with the worker's own stores, then times `GET /dashboard`
as a logged-in browser would: the full HTTP request through the app (ASGI transport, the
real lifespan, one Redis client), `--renders` times after a warm-up. The live fragment the
page polls is timed too.

    .venv/bin/python -m bench.dashboard                 # 500 channels, 50 recording, 50 renders
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import httpx
import orjson
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from webhooks.app import create_app
from worker.dev.redis_server import RedisServer
from worker.events import ChannelEvent, ChannelEventKind, EventSource, Role
from worker.policies.enums import Mode
from worker.settings import Settings
from worker.state.files import RecordingFile
from worker.state.history import Failure, HistoryEntry, HistoryStore, Outcome
from worker.state.occupancy import OccupancyRules, OccupancyScript
from worker.state.outbox import Endpoint, NotificationType, Outbox
from worker.state.sessions import Session, SessionState, SessionStore
from worker.state.slots import Slots

GOAL_P95_MS: Final = 200.0
TOKEN: Final = "bench-dashboard-token-0123456789"
FINISHED_PER_CHANNEL: Final = 2
FAILURES: Final = 200
NOTIFICATIONS: Final = 100
RECORDER_UID: Final = 4_200_000_000


@dataclass(frozen=True, slots=True)
class Figures:
    """Render times in ms."""

    page_ms: list[float]
    fragment_ms: list[float]
    page_bytes: int


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def seed(redis: aioredis.Redis[bytes], *, channels: int, recordings: int) -> None:
    """Put the bench's state into Redis with the worker's stores (see the module docstring)."""
    seconds, micros = await redis.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    script = OccupancyScript()
    names = [f"bench-room-{n:04d}" for n in range(channels)]
    calls = [
        script.event_call(
            ChannelEvent(
                name,
                101,
                ChannelEventKind.JOIN,
                Role.HOST,
                now,
                now,
                False,
                f"e-{name}",
                EventSource.APP,
            ),
            OccupancyRules(),
        )
        for name in names
    ]
    await script.run(redis, calls)
    slots = Slots(redis, limit=recordings)
    sessions = SessionStore(redis)
    history = HistoryStore(redis, history_days=7)
    for n, name in enumerate(names):
        await slots.acquire(name)  # the first `recordings` hold a slot, the rest wait
        if n < recordings:
            started = now - 1000 * (n + 1) * 37
            await sessions.save(
                Session(
                    channel=name,
                    state=SessionState.RUNNING,
                    uid=RECORDER_UID + n,
                    uid_index=0,
                    mode=Mode.MIX,
                    policy="default",
                    created_ms=started - 800,
                    resource_id=f"res-{n}",
                    sid=f"{n:032x}",
                    started_ms=started,
                    confirmed_ms=started + 900,
                    streams="both",
                )
            )
        if n < recordings * 2:
            for k in range(FINISHED_PER_CHANNEL):
                began = now - 3_600_000 * (k + 1) - n * 1000
                sid = f"{n:016x}{k:016x}"
                await history.append(
                    HistoryEntry(
                        channel=name,
                        outcome=Outcome.STOPPED,
                        uid=RECORDER_UID + n,
                        mode=Mode.MIX,
                        policy="default",
                        created_ms=began - 500,
                        ended_ms=began + 1_800_000,
                        resource_id=f"res-{sid}",
                        sid=sid,
                        started_ms=began,
                        stop_reason="empty",
                        files=tuple(RecordingFile(f"{sid}_{i}.ts") for i in range(3)),
                        uploading_status="uploaded",
                        streams="both",
                    )
                )
    for n in range(FAILURES):
        await history.record_failure(
            Failure(
                channel=names[n % channels],
                at_ms=now - n * 1000,
                what="start_failed",
                error=f"AgoraError: HTTP 400 code {(2, 53, 7)[n % 3]}: refused",
            )
        )
    outbox = Outbox(redis, [Endpoint("https://app.example/hooks")])
    body = orjson.dumps({"type": "recording.started", "data": {}})
    for n in range(NOTIFICATIONS):
        await outbox.append(NotificationType.STARTED, body, recording=f"r{n}", now_ms=now - n)


async def measure(
    redis_url: str, *, channels: int, recordings: int, renders: int, warmup: int = 3
) -> Figures:
    """Seed a flushed database at `redis_url`, then time the overview and its fragment."""
    redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(redis_url)
    try:
        await redis.flushdb()
        await seed(redis, channels=channels, recordings=recordings)
    finally:
        await redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
    settings = Settings(
        redis_url=redis_url,
        autorec_api_token=TOKEN,
        autorec_max_recordings=recordings,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    page_ms: list[float] = []
    fragment_ms: list[float] = []
    size = 0
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://bench.test"
        ) as client,
    ):
        login = await client.post("/dashboard/login", data={"token": TOKEN})
        assert login.status_code == 303, login.text
        for n in range(warmup + renders):
            start = time.perf_counter()
            answer = await client.get("/dashboard")
            elapsed = (time.perf_counter() - start) * 1000
            assert answer.status_code == 200, answer.status_code
            size = len(answer.content)
            start = time.perf_counter()
            fragment = await client.get("/dashboard/fragment/overview")
            fragment_elapsed = (time.perf_counter() - start) * 1000
            assert fragment.status_code == 200, fragment.status_code
            if n >= warmup:
                page_ms.append(elapsed)
                fragment_ms.append(fragment_elapsed)
    return Figures(page_ms=page_ms, fragment_ms=fragment_ms, page_bytes=size)


def table(figures: Figures, *, channels: int, recordings: int) -> tuple[str, bool]:
    """The result as a text table, and whether the goal is met."""
    rows = [("request", "p50", "p95", "max", "goal")]
    met = True
    for name, samples, goal in (
        ("GET /dashboard", figures.page_ms, f"p95 < {GOAL_P95_MS:.0f} ms"),
        ("GET /dashboard/fragment/overview", figures.fragment_ms, ""),
    ):
        p95 = percentile(samples, 0.95)
        if goal:
            met = met and p95 < GOAL_P95_MS
        rows.append(
            (
                name,
                f"{percentile(samples, 0.50):.1f} ms",
                f"{p95:.1f} ms",
                f"{max(samples):.1f} ms",
                goal,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        f"{channels} tracked channels, {recordings} recording, {channels - recordings} waiting; "
        f"{len(figures.page_ms)} renders; page {figures.page_bytes / 1024:.0f} KiB",
        *("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows),
        "goal met" if met else "goal MISSED",
    ]
    return "\n".join(lines), met


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure against `--redis-url` (flushed!), or a private redis-server."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--recordings", type=int, default=50)
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--redis-url", help="a Redis whose database may be flushed")
    args = parser.parse_args(argv)
    options = {"channels": args.channels, "recordings": args.recordings, "renders": args.renders}
    if args.redis_url:
        figures = asyncio.run(measure(args.redis_url, **options))
    else:
        with RedisServer() as server:
            figures = asyncio.run(measure(server.url, **options))
    text, met = table(figures, channels=args.channels, recordings=args.recordings)
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
