"""The worker's notification delivery: one `Deliverer` task per configured endpoint.

    delivery = NotificationDelivery.start(redis, settings, registry)   # at startup
    await delivery.stop()                                              # at shutdown

With no `AUTOREC_NOTIFY_URLS` nothing runs (notifications still go to the stream).
`signer_for(settings)` is the configuration check: URLs need `AUTOREC_NOTIFY_SECRET`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final

import httpx
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from worker.notify.deliver import Deliverer
from worker.notify.metrics import NotifyMetrics
from worker.notify.schedule import RetrySchedule
from worker.notify.signing import Signer
from worker.settings import ConfigError, Settings
from worker.state.outbox import Endpoint, Outbox

logger = logging.getLogger(__name__)

#: How long shutdown waits for an attempt in flight.
STOP_TIMEOUT_S: Final = 12.0


def signer_for(settings: Settings) -> Signer | None:
    """The signer of outgoing notifications; None without endpoints (ConfigError when
    endpoints are configured without a valid secret)."""
    if not settings.autorec_notify_urls:
        return None
    secret = settings.autorec_notify_secret
    if secret is None or not secret.get_secret_value():
        raise ConfigError("AUTOREC_NOTIFY_SECRET: required when AUTOREC_NOTIFY_URLS is set")
    try:
        return Signer(secret.get_secret_value())
    except ValueError as exc:
        raise ConfigError(f"AUTOREC_NOTIFY_SECRET: {exc}") from None


@dataclass
class NotificationDelivery:
    """The running deliverers of one worker process."""

    deliverers: list[Deliverer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    http: httpx.AsyncClient | None = None

    @classmethod
    def start(
        cls, redis: aioredis.Redis[bytes], settings: Settings, registry: CollectorRegistry
    ) -> NotificationDelivery:
        """Start a deliverer per endpoint (nothing without endpoints)."""
        signer = signer_for(settings)
        if signer is None:
            return cls()
        endpoints = [Endpoint(url) for url in settings.autorec_notify_urls]
        outbox = Outbox(redis, endpoints, stream_maxlen=settings.autorec_notify_stream_maxlen)
        schedule = RetrySchedule(
            delays_s=tuple(settings.autorec_notify_retry_s),
            max_age_s=settings.autorec_notify_max_age_s,
        )
        metrics = NotifyMetrics.create(registry)
        http = httpx.AsyncClient(follow_redirects=False)
        running = cls(http=http)
        for endpoint in endpoints:
            deliverer = Deliverer(
                redis,
                outbox,
                endpoint,
                http=http,
                signer=signer,
                schedule=schedule,
                metrics=metrics,
            )
            running.deliverers.append(deliverer)
            running.tasks.append(
                asyncio.create_task(deliverer.run(), name=f"autorec-notify-{endpoint.id}")
            )
        logger.info("delivering notifications to %d endpoint(s)", len(endpoints))
        return running

    async def stop(self) -> None:
        """Stop every deliverer (cancel one that hangs) and close the HTTP client."""
        for deliverer in self.deliverers:
            deliverer.stop()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_S)
            except TimeoutError:
                logger.warning("a notification deliverer did not stop in time; cancelled it")
            except Exception:  # a deliverer that crashed: logged by asyncio already
                with contextlib.suppress(Exception):
                    task.result()
        if self.http is not None:
            await self.http.aclose()
