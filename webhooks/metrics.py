"""Prometheus metrics of the webhook service, on a registry owned by one app.

Webhook outcomes and latency are counted in process. The recording-slot, waiting and stream
gauges are read from Redis at scrape time, here and only here, so several webhook or worker
replicas never report several copies of the same shared state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from webhooks.errors import Outcome, Source
from worker import keys

#: Request latency buckets (s): the edge answers in about a millisecond; a dead Redis in
#: about a socket timeout.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WebhookMetrics:
    """Counters and histograms of webhook requests; labelled children are bound once."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        received = Counter(
            "autorec_webhooks_received",
            "Webhook requests received, by source and outcome.",
            ("source", "outcome"),
            registry=registry,
        )
        duration = Histogram(
            "autorec_webhook_request_duration_seconds",
            "Time to answer a webhook request, in seconds.",
            ("source",),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self._received = {
            (source, outcome): received.labels(source.value, outcome.value)
            for source in Source
            for outcome in Outcome
        }
        self._duration = {source: duration.labels(source.value) for source in Source}

    def observe(self, source: Source, outcome: Outcome, duration_s: float) -> None:
        """Count one answered request and its latency."""
        self._received[source, outcome].inc()
        self._duration[source].observe(duration_s)


def build_registry() -> CollectorRegistry:
    """A fresh registry with the process, platform and garbage-collector metrics."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


@dataclass(frozen=True, slots=True)
class SharedState:
    """Shared controller state read from Redis at scrape time."""

    slots_in_use: int
    waiting_channels: tuple[str, ...]
    """The channels waiting for a slot, next first."""
    stream_length: int
    dead_letters: int

    @property
    def waiting(self) -> int:
        """How many channels wait for a slot."""
        return len(self.waiting_channels)


async def read_shared_state(
    redis: aioredis.Redis[bytes], *, stream: str, timeout_s: float
) -> SharedState | None:
    """Slots in use, the waiting queue, the stream's and its dead letters' lengths in one
    pipeline; None if Redis fails."""
    try:
        async with asyncio.timeout(timeout_s):
            pipe = redis.pipeline(transaction=False)
            pipe.zcard(keys.SLOTS)
            pipe.zrange(keys.WAITING, 0, -1)
            pipe.xlen(stream)
            pipe.xlen(keys.dead_letter(stream))
            slots, waiting, length, dead = await pipe.execute()
    except (RedisError, TimeoutError, OSError):
        return None
    return SharedState(
        slots_in_use=int(slots),
        waiting_channels=tuple(channel.decode() for channel in waiting),
        stream_length=int(length),
        dead_letters=int(dead),
    )


class WaitingAges:
    """When this process first saw each waiting channel at a scrape, and the oldest one's age.

    Redis keeps the waiting queue's order, not when each channel joined it. Scraped every
    15 s, the age is exact to a scrape interval; a restarted service starts counting anew,
    so the age may under-report after a restart, never over-report.
    """

    def __init__(self, clock_s: Callable[[], float] = time.monotonic) -> None:
        self._clock_s = clock_s
        self._first_seen_s: dict[str, float] = {}

    def oldest_s(self, waiting: Iterable[str]) -> float:
        """Note the channels waiting now; seconds the longest-waiting one has waited (0: none)."""
        now_s = self._clock_s()
        self._first_seen_s = {
            channel: self._first_seen_s.get(channel, now_s) for channel in waiting
        }
        return now_s - min(self._first_seen_s.values(), default=now_s)


class SharedStateCollector(Collector):
    """Gauges of one scrape's SharedState (absent when Redis could not be read)."""

    def __init__(
        self,
        state: SharedState | None,
        *,
        slots_limit: int,
        oldest_waiting_s: float | None = None,
    ) -> None:
        self._state = state
        self._slots_limit = slots_limit
        self._oldest_waiting_s = oldest_waiting_s

    def collect(self) -> Iterator[Metric]:
        """The gauges of this scrape."""
        yield GaugeMetricFamily(
            "autorec_recording_slots_limit",
            "Concurrent recording limit (AUTOREC_MAX_RECORDINGS).",
            value=self._slots_limit,
        )
        if self._state is None:
            return
        yield GaugeMetricFamily(
            "autorec_recording_slots_in_use",
            "Recording slot leases held.",
            value=self._state.slots_in_use,
        )
        yield GaugeMetricFamily(
            "autorec_recordings_waiting",
            "Channels waiting for a recording slot.",
            value=self._state.waiting,
        )
        if self._oldest_waiting_s is not None:
            yield GaugeMetricFamily(
                "autorec_recordings_waiting_oldest_age_seconds",
                "How long the longest-waiting channel has waited for a slot (0: none waits).",
                value=self._oldest_waiting_s,
            )
        yield GaugeMetricFamily(
            "autorec_events_stream_length",
            "Entries in the events stream.",
            value=self._state.stream_length,
        )
        yield GaugeMetricFamily(
            "autorec_events_dead_letter_length",
            "Entries in the events dead-letter stream.",
            value=self._state.dead_letters,
        )


class _Scrape:
    """The app's registry and one scrape's gauges, as one collector (one `# EOF` in
    OpenMetrics)."""

    def __init__(self, registry: CollectorRegistry, shared: SharedStateCollector) -> None:
        self._registry = registry
        self._shared = shared

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
        yield from self._shared.collect()


def render(
    registry: CollectorRegistry, shared: SharedStateCollector, *, accept: str | None = None
) -> tuple[bytes, str]:
    """The exposition of the app's registry plus the scrape-time gauges, and its content
    type: OpenMetrics when the `Accept` header asks for it, else Prometheus text."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_Scrape(registry, shared)), content_type
