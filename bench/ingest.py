"""Ingest bench: signed NCS webhooks/s through the real app vs a bare Starlette endpoint.

Both run under uvicorn (one process, uvloop, httptools, no access log) against a private
redis-server (AOF, fsync every second, as in production), driven by the same load generator
on loopback for the same time. Also prints events/s applied by one consumer process when
`bench/consume.py` is present.

    .venv/bin/python -m bench.ingest --duration-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
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
from worker.redis_server import RedisServer

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


@dataclass(frozen=True)
class IngestReport:
    """Both runs of one bench, and the consumer's figures if measured."""

    generator: str
    connections: int
    app: LoadResult
    bare: LoadResult
    stream_entries: int
    consumer: dict[str, float] | None

    @property
    def ratio(self) -> float:
        """Webhook app requests/s over bare endpoint requests/s."""
        return self.app.requests_per_s / self.bare.requests_per_s

    def table(self) -> str:
        """The report as a plain-text table."""
        rows = [
            ("signed NCS webhook (real app)", self.app),
            ("bare Starlette POST", self.bare),
        ]
        lines = [
            f"load: {self.generator}, {self.connections} connections, loopback",
            f"{'endpoint':<32}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}",
        ]
        for name, result in rows:
            lines.append(
                f"{name:<32}{result.requests_per_s:>12,.0f}{result.p50_ms:>9.2f}"
                f"{result.p99_ms:>9.2f}{result.non_2xx:>9}"
            )
        lines.append(f"ratio app / bare: {self.ratio:.2f}")
        lines.append(f"events in stream after the app run: {self.stream_entries:,}")
        if self.consumer is not None:
            figures = ", ".join(f"{k} {v:,.1f}" for k, v in self.consumer.items())
            lines.append(f"one consumer process: {figures}")
        else:
            lines.append("one consumer process: not measured (bench/consume.py absent)")
        return "\n".join(lines)


Loader = Callable[..., LoadResult]


def _loader(generator: str) -> tuple[str, Loader]:
    if generator == "wrk" or (generator == "auto" and wrk_available()):
        return "wrk (1 thread)", run_wrk
    return "python (2 processes)", run_python_load


def _measure_consumer(redis_url: str, n_events: int) -> dict[str, float] | None:
    try:
        consume = importlib.import_module("bench.consume")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.consume":
            raise
        return None
    result: dict[str, float] = asyncio.run(consume.measure(redis_url, n_events))
    return result


def measure(
    *,
    duration_s: float,
    connections: int = 32,
    generator: str = "auto",
    pin: bool = True,
    consumer_events: int = 20_000,
) -> IngestReport:
    """Run the app and the bare endpoint under the same load; then the consumer."""
    name, load = _loader(generator)
    pin = pin and cpu_pinning_available()
    server_cpus, load_cpus = (SERVER_CPUS, LOAD_CPUS) if pin else (None, None)
    requests = signed_ncs_requests(max(2_000, int(duration_s * 12_000)), NCS_SECRET)
    with RedisServer(appendonly=True) as redis_server:
        env = {
            "REDIS_URL": redis_server.url,
            "AGORA_NCS_SECRET": NCS_SECRET,
            "AUTOREC_EVENTS_STREAM": STREAM,
        }
        with uvicorn_app("webhooks.app:create_app", env=env, cpus=server_cpus) as port:
            app = load(
                port, requests, duration_s=duration_s, connections=connections, cpus=load_cpus
            )
        with uvicorn_app("bench.ingest:create_bare_app", env=env, cpus=server_cpus) as port:
            bare = load(
                port, requests, duration_s=duration_s, connections=connections, cpus=load_cpus
            )
        client = redis_sync.Redis.from_url(redis_server.url)
        try:
            entries = int(client.xlen(STREAM))
            client.flushall()
        finally:
            client.close()
        consumer = _measure_consumer(redis_server.url, consumer_events) if consumer_events else None
    return IngestReport(name, connections, app, bare, entries, consumer)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the bench and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration-s", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load CPUs")
    parser.add_argument(
        "--consumer-events", type=int, default=20_000, help="events for the consumer row (0: skip)"
    )
    args = parser.parse_args(argv)
    report = measure(
        duration_s=args.duration_s,
        connections=args.connections,
        generator=args.generator,
        pin=not args.no_pin,
        consumer_events=args.consumer_events,
    )
    print(report.table())


if __name__ == "__main__":
    main()
