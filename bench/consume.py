"""Consumer bench: events/s applied by one consumer process, and the latency of one event.

Throughput: `n_events` raw NCS join/leave notifications (103/104, as the webhook stores them) over
channels of ten users are pre-filled into a private stream, then one StreamConsumer drains
it (batches of 200, one pipelined EVALSHA per event, the ack inside the script). Every flip
of a channel's desired state enqueues a real arq job. Latency: the same traffic is then
XADDed one by one at a paced rate while the consumer runs; p50/p99 are XADD → effect stored.
Producer and consumer share one process here, so the latency includes the producer's cost.

    .venv/bin/python -m bench.consume --events 20000

Keys, queue and stream are private to the run (random suffix) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Sequence
from typing import Final

import orjson
import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings, create_pool

from worker import keys
from worker.dev.redis_server import RedisServer
from worker.ingest.consumer import StreamConsumer
from worker.ingest.normalize import UidRange
from worker.state.occupancy import OccupancyRules
from worker.state.reconcile_queue import enqueue_reconcile

USERS_PER_CHANNEL: Final = 10
BATCH_SIZE: Final = 200
PACED_RATE_PER_S: Final = 1_000.0
PACED_EVENTS_MAX: Final = 3_000
GOAL_EVENTS_PER_S: Final = 5_000.0
_RULES: Final = OccupancyRules()
_RECORDERS: Final = UidRange(4_200_000_000, 4_294_967_294)


def ncs_traffic(run: str, n_events: int, *, first_channel: int = 0) -> list[bytes]:
    """NCS bodies: channels of ten broadcasters who join and then leave, interleaved."""
    per_channel = 2 * USERS_PER_CHANNEL
    n_channels = max(1, -(-n_events // per_channel))
    now_s = int(time.time())
    streams: list[list[bytes]] = []
    for c in range(first_channel, first_channel + n_channels):
        channel = f"bench-{run}-{c}"
        bodies = []
        for step in range(per_channel):
            uid = 1000 + step % USERS_PER_CHANNEL
            leaving = step >= USERS_PER_CHANNEL
            payload = {
                "channelName": channel,
                "uid": uid,
                "platform": 7,
                "clientSeq": 1_700_000_000_000 + step,
                "ts": now_s,
            }
            bodies.append(
                orjson.dumps(
                    {
                        "noticeId": f"{channel}:{step}",
                        "productId": 1,
                        "eventType": 104 if leaving else 103,
                        "notifyMs": now_s * 1000,
                        "payload": payload,
                    }
                )
            )
        streams.append(bodies)
    # Round-robin over channels so consecutive entries touch different channels.
    interleaved = [body for step in zip(*streams, strict=True) for body in step]
    return interleaved[:n_events]


def percentile_ms(samples_ns: Sequence[int], fraction: float) -> float:
    """The `fraction` quantile of nanosecond samples, in milliseconds."""
    if not samples_ns:
        return 0.0
    ordered = sorted(samples_ns)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


class _Run:
    """One bench run's private names, consumer and clean-up."""

    def __init__(self, redis: aioredis.Redis[bytes], arq: ArqRedis, run_id: str) -> None:
        self.id = run_id
        self.redis = redis
        self.arq = arq
        self.stream = f"autorec:bench:{self.id}:events"
        self.flips = 0

        async def wake(channel: str, gen: int) -> None:
            self.flips += 1
            await enqueue_reconcile(arq, channel, gen)

        self.consumer = StreamConsumer(
            redis,
            stream=self.stream,
            group="bench",
            consumer_name="bench-1",
            rules=lambda channel: _RULES,
            on_changed=wake,
            recorder_uids=_RECORDERS,
            batch_size=BATCH_SIZE,
            block_ms=20,
            claim_every_s=3600.0,
        )

    async def fill(self, bodies: Sequence[bytes]) -> None:
        for start in range(0, len(bodies), 1000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for body in bodies[start : start + 1000]:
                    pipe.xadd(self.stream, {keys.FIELD_NCS: body})
                await pipe.execute()

    async def clean(self) -> None:
        names: list[bytes | str] = [
            self.stream,
            keys.dead_letter(self.stream),
            self.arq.default_queue_name,
            keys.jobs_wake(self.arq.default_queue_name),
        ]
        for pattern in (
            f"{keys.PREFIX}ch:bench-{self.id}-*",
            f"arq:job:reconcile:bench-{self.id}-*",
        ):
            names += [name async for name in self.redis.scan_iter(match=pattern, count=1000)]
        for start in range(0, len(names), 500):
            await self.redis.delete(*names[start : start + 500])
        async for member, _ in self.redis.zscan_iter(keys.CHANNELS, match=f"bench-{self.id}-*"):
            await self.redis.zrem(keys.CHANNELS, member)
            await self.redis.zrem(keys.RECONCILE_DUE, member)


async def _throughput(run: _Run, n_events: int) -> tuple[float, list[int]]:
    await run.fill(ncs_traffic(run.id, n_events))
    await run.consumer.setup()
    batches_ns: list[int] = []
    done = 0
    started = time.perf_counter()
    while done < n_events:
        batch_started = time.perf_counter_ns()
        result = await run.consumer.step()
        if result.read:
            batches_ns.append(time.perf_counter_ns() - batch_started)
        done += result.read
    return n_events / (time.perf_counter() - started), batches_ns


async def _latency(run: _Run, n_events: int, rate_per_s: float) -> list[int]:
    bodies = ncs_traffic(run.id, n_events, first_channel=10**6)
    sent_ns: dict[str, int] = {}
    latencies_ns: list[int] = []
    produced = asyncio.Event()

    async def produce() -> None:
        started = time.perf_counter()
        for n, body in enumerate(bodies):
            delay_s = started + n / rate_per_s - time.perf_counter()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            sent = time.perf_counter_ns()
            entry_id = await run.redis.xadd(run.stream, {keys.FIELD_NCS: body})
            sent_ns[entry_id.decode()] = sent
        produced.set()

    producer = asyncio.create_task(produce())
    deadline = time.monotonic() + 30 + n_events / rate_per_s
    while not (produced.is_set() and len(latencies_ns) >= len(sent_ns)):
        if time.monotonic() > deadline:
            producer.cancel()
            raise RuntimeError("paced events were not all applied in time")
        result = await run.consumer.step()
        now = time.perf_counter_ns()
        latencies_ns += [now - sent_ns[i] for i in result.acked if i in sent_ns]
    await producer
    return latencies_ns


async def measure(redis_url: str, n_events: int) -> dict[str, float]:
    """Apply `n_events` with one consumer; events/s, event latency and batch time (ms)."""
    run_id = secrets.token_hex(4)
    redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(redis_url)
    arq = await create_pool(
        RedisSettings.from_dsn(redis_url), default_queue_name=f"arq:queue:bench-{run_id}"
    )
    run = _Run(redis, arq, run_id)
    try:
        events_per_s, batches_ns = await _throughput(run, n_events)
        paced = min(n_events, PACED_EVENTS_MAX)
        latencies_ns = await _latency(run, paced, PACED_RATE_PER_S)
        return {
            "events_per_s": events_per_s,
            "p50_ms": percentile_ms(latencies_ns, 0.50),
            "p99_ms": percentile_ms(latencies_ns, 0.99),
            "batch_p50_ms": percentile_ms(batches_ns, 0.50),
            "batch_p99_ms": percentile_ms(batches_ns, 0.99),
            "flips": float(run.flips),
        }
    finally:
        await run.clean()
        await redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
        await arq.aclose()  # type: ignore[attr-defined]


def table(figures: dict[str, float], n_events: int) -> str:
    """The bench's result as a small text table."""
    rows = [
        ("events applied", f"{n_events:,}"),
        ("events/s (one consumer process)", f"{figures['events_per_s']:,.0f}"),
        ("goal", f">= {GOAL_EVENTS_PER_S:,.0f} events/s"),
        (
            "batch of 200: p50 / p99",
            f"{figures['batch_p50_ms']:.2f} / {figures['batch_p99_ms']:.2f} ms",
        ),
        (
            f"event latency at {PACED_RATE_PER_S:,.0f}/s: p50 / p99",
            f"{figures['p50_ms']:.2f} / {figures['p99_ms']:.2f} ms",
        ),
        ("reconcile jobs enqueued (desired flips)", f"{figures['flips']:,.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: measure against `--redis-url`, or a private redis-server with AOF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="events to apply")
    parser.add_argument("--redis-url", help="an existing Redis (default: a private server)")
    args = parser.parse_args(argv)
    if args.redis_url:
        figures = asyncio.run(measure(args.redis_url, args.events))
    else:
        with RedisServer(appendonly=True) as server:
            figures = asyncio.run(measure(server.url, args.events))
    print(table(figures, args.events))


if __name__ == "__main__":
    main()
