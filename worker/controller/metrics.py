"""The controller's Prometheus metrics, registered on the worker's registry
(`worker.metrics.WorkerMetrics.registry`).

Labels are bounded: Agora operations, outcome classes, drift kinds and job function names,
never channels, uids, resource ids or sids.

Agora requests are counted by the HTTP transport of the Agora client's connection pool
(`agora_http_client`): every attempt, retries included, as the operation (from the request
path) and its outcome (`2xx`, `4xx`, `5xx`, …, `timeout` or `transport_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import httpx
from arq.worker import Retry
from prometheus_client import CollectorRegistry, Counter, Histogram

#: Request path endings → operation label (names as the Agora client's endpoints).
_OPERATIONS: Final = (
    ("/acquire", "acquire"),
    ("/start", "start"),
    ("/query", "query"),
    ("/updateLayout", "updateLayout"),
    ("/update", "update"),
    ("/stop", "stop"),
    ("/ncs/ip", "ncs_ip"),
)
_USER_LIST: Final = "/dev/v1/channel/user/"
_CHANNEL_LIST: Final = "/dev/v1/channel/"
OTHER: Final = "other"


class Drift(StrEnum):
    """Differences between our state and Agora's (or our own keys) that a reconcile fixed."""

    ORPHAN_RECORDING = "orphan_recording"
    """A recording runs at Agora that no session of ours owns (start 53 with a task of
    unknown sid)."""
    MISSING_RECORDING = "missing_recording"
    """A recording we believed running is gone at Agora (query 404, event 11)."""
    LOST_LEASE = "lost_lease"
    """A session had no slot lease (e.g. Redis lost data); the lease was re-created."""
    HEALED_MEMBERSHIP = "healed_membership"
    """Agora's user list corrected our members (a lost join or leave notification)."""


def agora_operation(path: str) -> str:
    """The operation label of an Agora request path (never the ids in it)."""
    if _USER_LIST in path:
        return "user_list"
    if _CHANNEL_LIST in path:
        return "channel_list"
    for ending, operation in _OPERATIONS:
        if path.endswith(ending):
            return operation
    return OTHER


@dataclass(frozen=True, slots=True)
class ControllerMetrics:
    """The controller's metrics, registered in `registry`."""

    registry: CollectorRegistry
    agora_requests: Counter
    agora_request_seconds: Histogram
    recordings_started: Counter
    recordings_stopped: Counter
    recordings_failed: Counter
    reconcile_drift: Counter
    jobs: Counter
    job_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ControllerMetrics:
        """Create and register every metric (in a fresh registry unless one is given)."""
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            agora_requests=Counter(
                "autorec_agora_requests_total",
                "HTTP attempts to Agora's REST API, by operation and status class.",
                ["operation", "outcome"],
                registry=reg,
            ),
            agora_request_seconds=Histogram(
                "autorec_agora_request_duration_seconds",
                "Duration of one HTTP attempt to Agora's REST API.",
                ["operation"],
                buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                registry=reg,
            ),
            recordings_started=Counter(
                "autorec_recordings_started_total",
                "Recordings confirmed started (a sid from start, or one adopted).",
                registry=reg,
            ),
            recordings_stopped=Counter(
                "autorec_recordings_stopped_total",
                "Started recordings that ended, by outcome (stop answer, died, exited, ...).",
                ["outcome"],
                registry=reg,
            ),
            recordings_failed=Counter(
                "autorec_recordings_failed_total",
                "Recordings that could not be started (a start refused for good).",
                registry=reg,
            ),
            reconcile_drift=Counter(
                "autorec_reconcile_drift_total",
                "Drift between our state and Agora's found and corrected, by kind.",
                ["kind"],
                registry=reg,
            ),
            jobs=Counter(
                "autorec_jobs_total",
                "Controller job runs, by function and outcome (success, retry, failed, cancelled).",
                ["function", "outcome"],
                registry=reg,
            ),
            job_seconds=Histogram(
                "autorec_job_duration_seconds",
                "Duration of one controller job run.",
                ["function"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                registry=reg,
            ),
        )

    @contextlib.asynccontextmanager
    async def job(self, function: str) -> AsyncIterator[None]:
        """Count and time one job run: success, retry (arq `Retry`), cancelled (timeout or
        shutdown) or failed (any other exception, re-raised)."""
        started = time.perf_counter()
        outcome = "failed"
        try:
            yield
            outcome = "success"
        except Retry:
            outcome = "retry"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.jobs.labels(function=function, outcome=outcome).inc()
            self.job_seconds.labels(function=function).observe(time.perf_counter() - started)

    def drift(self, kind: Drift, count: int = 1) -> None:
        """Count `count` corrections of `kind`."""
        if count > 0:
            self.reconcile_drift.labels(kind=kind.value).inc(count)


class MeteredTransport(httpx.AsyncBaseTransport):
    """An httpx transport that counts and times each request it sends to Agora."""

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: ControllerMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = agora_operation(request.url.path)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TimeoutException:
            self._record(operation, "timeout", started)
            raise
        except httpx.TransportError:
            self._record(operation, "transport_error", started)
            raise
        self._record(operation, f"{response.status_code // 100}xx", started)
        return response

    def _record(self, operation: str, outcome: str, started: float) -> None:
        self._metrics.agora_requests.labels(operation=operation, outcome=outcome).inc()
        self._metrics.agora_request_seconds.labels(operation=operation).observe(
            time.perf_counter() - started
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def agora_http_client(metrics: ControllerMetrics) -> httpx.AsyncClient:
    """The connection pool of the Agora client, counting every request in `metrics`."""
    return httpx.AsyncClient(transport=MeteredTransport(httpx.AsyncHTTPTransport(), metrics))
