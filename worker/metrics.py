"""The worker's Prometheus metrics and the small HTTP server that exposes them.

Each worker process owns one registry (no multiprocess mode: one process per container).
Label values are bounded: event kinds, reasons and Agora's numeric types, never channels,
uids or free text from events.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

#: Unknown event types of app events are free text: they share one label value.
OTHER: Final = "other"
_MAX_TYPE_DIGITS: Final = 6


def event_type_label(product: str, event_type: str) -> str:
    """A bounded label value for an unknown event type (NCS numbers; app types → "other")."""
    numeric = product != "app" and event_type.isascii() and event_type.isdigit()
    return event_type if numeric and len(event_type) <= _MAX_TYPE_DIGITS else OTHER


def product_label(product: str) -> str:
    """A bounded label value for an NCS productId (or "app")."""
    if product == "app" or (product.isascii() and product.isdigit() and len(product) <= 4):
        return product
    return OTHER


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """The stream consumer's metrics, registered in `registry`."""

    registry: CollectorRegistry
    events_applied: Counter
    events_ignored: Counter
    events_unknown: Counter
    events_dead_lettered: Counter
    handler_errors: Counter
    desired_changes: Counter
    reconcile_enqueue_errors: Counter
    consumer_lag: Gauge
    consumer_pending: Gauge
    batch_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> WorkerMetrics:
        """Create and register every metric (in a fresh registry unless one is given).

        A fresh registry also carries the process's `process_*` and `python_*` metrics.
        """
        if registry is None:
            reg = CollectorRegistry()
            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)
        else:
            reg = registry
        return cls(
            registry=reg,
            events_applied=Counter(
                "autorec_events_applied_total",
                "Events whose effect is stored and whose stream entry is acknowledged.",
                ["kind"],
                registry=reg,
            ),
            events_ignored=Counter(
                "autorec_events_ignored_total",
                "Applied events that changed nothing, by reason.",
                ["reason"],
                registry=reg,
            ),
            events_unknown=Counter(
                "autorec_events_unknown_total",
                "Well-formed events of a type autorec does not handle (acknowledged).",
                ["product", "event_type"],
                registry=reg,
            ),
            events_dead_lettered=Counter(
                "autorec_events_dead_lettered_total",
                "Stream entries moved to the dead-letter stream, by reason.",
                ["reason"],
                registry=reg,
            ),
            handler_errors=Counter(
                "autorec_events_handler_errors_total",
                "Entries left pending because applying them failed (retried after claim).",
                registry=reg,
            ),
            desired_changes=Counter(
                "autorec_channel_desired_changes_total",
                "Flips of a channel's desired recording state.",
                ["desired"],
                registry=reg,
            ),
            reconcile_enqueue_errors=Counter(
                "autorec_reconcile_enqueue_errors_total",
                "Failed reconcile wake-ups (kept in Redis and retried by the sweep).",
                registry=reg,
            ),
            consumer_lag=Gauge(
                "autorec_events_consumer_lag",
                "Stream entries not yet delivered to the consumer group.",
                registry=reg,
            ),
            consumer_pending=Gauge(
                "autorec_events_pending",
                "Entries delivered to the consumer group but not yet acknowledged.",
                registry=reg,
            ),
            batch_seconds=Histogram(
                "autorec_events_batch_duration_seconds",
                "Time to apply one batch read from the stream.",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
                registry=reg,
            ),
        )


class MetricsServer:
    """A running Prometheus HTTP endpoint; `close()` stops it and joins its thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        """The address it listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port it listens on (the OS picks one when started with port 0)."""
        return int(self._server.server_address[1])

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop serving, close the socket and wait for the server thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout_s)


def start_metrics_server(
    registry: CollectorRegistry,
    *,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104 - scraped from outside the container
) -> MetricsServer:
    """Serve `registry` on `host:port` from a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
