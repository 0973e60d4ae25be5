"""Ingest bench: signed NCS webhooks/s through the real app vs a bare Starlette endpoint.

Both run under uvicorn (one process, uvloop, httptools, no access log) against a private
redis-server (AOF, fsync every second, as in production), driven by the same load generator
on loopback for the same time. Also prints events/s applied by one consumer process
(`bench/consume.py`).

    .venv/bin/python -m bench.ingest --duration-s 5 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
import redis as redis_sync
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import consume
from bench.common import (
    HttpRequest,
    LoadResult,
    cpu_pinning_available,
    run_python_load,
    run_wrk,
    uvicorn_app,
    wrk_available,
)
from webhooks.signatures import agora_signature
from worker.dev.redis_server import RedisServer

STREAM = "autorec:events"
NCS_SECRET = "bench-ncs-secret"
SERVER_CPUS = "0"
LOAD_CPUS = "1"


# --- the baseline app -----------------------------------------------------------------------


async def _bare_webhook(request: Request) -> Response:
    await request.body()
    return JSONResponse({"ok": True})


async def _bare_health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_bare_app() -> Starlette:
    """A bare Starlette POST endpoint on the same path: reads the body, answers {"ok":true}."""
    return Starlette(
        routes=[
            Route("/webhooks/agora", _bare_webhook, methods=["POST"]),
            Route("/healthz", _bare_health, methods=["GET"]),
        ]
    )


# --- load -----------------------------------------------------------------------------------


def signed_ncs_requests(count: int, secret: str) -> list[HttpRequest]:
    """`count` distinct NCS user-join notifications, each signed with Agora-Signature-V2."""
    run = secrets.token_hex(4)
    now_ms = int(time.time() * 1000)
    requests = []
    for n in range(count):
        body = orjson.dumps(
            {
                "noticeId": f"bench-{run}-{n}",
                "productId": 1,
                "eventType": 107,
                "notifyMs": now_ms,
                "payload": {
                    "channelName": f"bench-{n % 500}",
                    "uid": 1000 + n,
                    "platform": 7,
                    "clientSeq": now_ms + n,
                    "ts": now_ms // 1000,
                },
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Agora-Signature-V2": agora_signature(body, secret.encode()),
        }
        requests.append(HttpRequest("/webhooks/agora", headers, body))
    return requests


def _median(results: Sequence[LoadResult]) -> LoadResult:
    return sorted(results, key=lambda result: result.requests_per_s)[len(results) // 2]


@dataclass(frozen=True)
class IngestReport:
    """Alternating rounds of both endpoints, and the consumer's figures if measured."""

    generator: str
    connections: int
    app_rounds: list[LoadResult]
    bare_rounds: list[LoadResult]
    stream_entries: int
    consumer: dict[str, float] | None

    @property
    def app(self) -> LoadResult:
        """The webhook app's median round (by requests/s)."""
        return _median(self.app_rounds)

    @property
    def bare(self) -> LoadResult:
        """The bare endpoint's median round (by requests/s)."""
        return _median(self.bare_rounds)

    @property
    def ratio(self) -> float:
        """Median webhook app requests/s over median bare endpoint requests/s."""
        return self.app.requests_per_s / self.bare.requests_per_s

    def table(self) -> str:
        """The report as a plain-text table."""
        rows = [
            ("signed NCS webhook (real app)", self.app),
            ("bare Starlette POST", self.bare),
        ]
        lines = [
            f"load: {self.generator}, {self.connections} connections, loopback; "
            f"median of {len(self.app_rounds)} alternating rounds",
            f"{'endpoint':<32}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}",
        ]
        for name, result in rows:
            lines.append(
                f"{name:<32}{result.requests_per_s:>12,.0f}{result.p50_ms:>9.2f}"
                f"{result.p99_ms:>9.2f}{result.non_2xx:>9}"
            )
        per_round = ", ".join(
            f"{app.requests_per_s / bare.requests_per_s:.2f}"
            for app, bare in zip(self.app_rounds, self.bare_rounds, strict=True)
        )
        lines.append(f"ratio app / bare: {self.ratio:.2f} (rounds: {per_round})")
        lines.append(f"events in stream after the app runs: {self.stream_entries:,}")
        lines.append(_consumer_line(self.consumer))
        return "\n".join(lines)


def _consumer_line(figures: dict[str, float] | None) -> str:
    if figures is None:
        return "events applied by one consumer process: not measured"
    rest = dict(figures)
    line = "events applied by one consumer process: "
    if "events_per_s" in rest:
        line += f"{rest.pop('events_per_s'):,.0f}/s"
    if rest:
        line += " (" + ", ".join(f"{name} {value:,.1f}" for name, value in rest.items()) + ")"
    return line


Loader = Callable[..., LoadResult]


def _loader(generator: str) -> tuple[str, Loader]:
    if generator == "wrk" or (generator == "auto" and wrk_available()):
        return "wrk (1 thread)", run_wrk
    return "python (2 processes)", run_python_load


def _measure_consumer(redis_url: str, n_events: int) -> dict[str, float]:
    return asyncio.run(consume.measure(redis_url, n_events))


def measure(
    *,
    duration_s: float,
    rounds: int = 3,
    connections: int = 32,
    generator: str = "auto",
    pin: bool = True,
    consumer_events: int = 20_000,
) -> IngestReport:
    """Alternate the app and the bare endpoint under the same load; then the consumer."""
    name, load = _loader(generator)
    pin = pin and cpu_pinning_available()
    server_cpus, load_cpus = (SERVER_CPUS, LOAD_CPUS) if pin else (None, None)
    app_rounds: list[LoadResult] = []
    bare_rounds: list[LoadResult] = []
    with RedisServer(appendonly=True) as redis_server:
        env = {
            "REDIS_URL": redis_server.url,
            "AGORA_NCS_SECRET": NCS_SECRET,
            "AUTOREC_EVENTS_STREAM": STREAM,
        }
        with (
            uvicorn_app("webhooks.app:create_app", env=env, cpus=server_cpus) as app_port,
            uvicorn_app("bench.ingest:create_bare_app", env=env, cpus=server_cpus) as bare_port,
        ):
            for _ in range(rounds):
                # Fresh notice ids every round, enough that the app never sees a duplicate.
                requests = signed_ncs_requests(max(2_000, int(duration_s * 16_000)), NCS_SECRET)
                options = {"duration_s": duration_s, "connections": connections, "cpus": load_cpus}
                app_rounds.append(load(app_port, requests, **options))
                bare_rounds.append(load(bare_port, requests, **options))
        client = redis_sync.Redis.from_url(redis_server.url)
        try:
            entries = int(client.xlen(STREAM))
            client.flushall()
        finally:
            client.close()
        consumer = _measure_consumer(redis_server.url, consumer_events) if consumer_events else None
    return IngestReport(name, connections, app_rounds, bare_rounds, entries, consumer)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the bench and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration-s", type=float, default=5.0, help="seconds per endpoint and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load CPUs")
    parser.add_argument(
        "--consumer-events", type=int, default=20_000, help="events for the consumer row (0: skip)"
    )
    args = parser.parse_args(argv)
    report = measure(
        duration_s=args.duration_s,
        rounds=args.rounds,
        connections=args.connections,
        generator=args.generator,
        pin=not args.no_pin,
        consumer_events=args.consumer_events,
    )
    print(report.table())


if __name__ == "__main__":
    main()
