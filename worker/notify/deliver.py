"""Delivery of the outbox to one endpoint: at least once, in order per recording.

One `Deliverer` per endpoint and worker process; a Redis lock makes one worker at a time
deliver an endpoint (the others stand by and take over when it dies), so messages of one
recording go out one after the other in the order they were written. Each attempt is a POST
of the signed body with a 10 s timeout: 2xx is delivered, 410 stops this endpoint's retries
of the message (gone), anything else (or no answer) is tried again on the schedule until
the maximum age, then failed. While a message of a recording waits for a retry, the later
messages of that recording wait too; other recordings go on. Each endpoint has its own task,
so a dead endpoint never delays another, and delivery never touches the Agora request
budget. An idle deliverer waits on its wake-up list (pushed when a message is written)
instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import httpx
import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from worker import keys
from worker.notify.metrics import NotifyMetrics
from worker.notify.schedule import RetrySchedule
from worker.notify.signing import Signer
from worker.state.outbox import Endpoint, Outbox, Settle

logger = logging.getLogger(__name__)

#: A receiver's answer must come within this.
ATTEMPT_TIMEOUT_S: Final = 10.0
#: The delivering worker holds the endpoint's lock this long and renews it before each
#: attempt (so it outlasts one attempt); a worker that dies hands over within this.
LOCK_TTL_S: Final = ATTEMPT_TIMEOUT_S + 5.0
#: The longest an idle deliverer waits before looking again (retries due, the lock).
IDLE_WAIT_S: Final = 1.0
#: Messages looked at per pass.
BATCH: Final = 100


def _result_label(status: int | None) -> str:
    if status is None:
        return "error"
    if 200 <= status < 300:
        return "2xx"
    if status == 410:
        return "410"
    return f"{status // 100}xx"


class Deliverer:
    """Delivers one endpoint's queue (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        outbox: Outbox,
        endpoint: Endpoint,
        *,
        http: httpx.AsyncClient,
        signer: Signer,
        schedule: RetrySchedule,
        metrics: NotifyMetrics,
    ) -> None:
        self.redis = redis
        self.outbox = outbox
        self.endpoint = endpoint
        self.http = http
        self.signer = signer
        self.schedule = schedule
        self.metrics = metrics
        self._lock = Lock(
            redis, keys.notification_lock(endpoint.id), timeout=LOCK_TTL_S, blocking=False
        )
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask `run` to end after the attempt in flight."""
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped; Redis errors are waited out."""
        try:
            while not self._stopping.is_set():
                try:
                    wait_s = await self._turn()
                    await self._wait(wait_s)
                except RedisError as exc:
                    logger.warning(
                        "notifications to %s: Redis unavailable (%s); trying again",
                        self.endpoint.id,
                        type(exc).__name__,
                    )
                    await self._sleep(IDLE_WAIT_S)
        finally:
            await self._release()

    async def _turn(self) -> float:
        """Hold the lock and deliver what is due; seconds until something may be due."""
        if not await self._hold():
            await self._gauge()  # every worker reports the backlog, holder or not
            return IDLE_WAIT_S
        return await self.deliver_due()

    async def _gauge(self) -> None:
        oldest = await self.outbox.oldest_pending_ms()
        now = await self._now_ms()
        self.metrics.oldest_pending_age.set(0 if oldest is None else (now - oldest) / 1000)

    async def _hold(self) -> bool:
        try:
            if self._lock.local.token is not None:
                await self._lock.reacquire()
                return True
        except LockError:
            self._lock.local.token = None
        return bool(await self._lock.acquire(blocking=False))

    async def _release(self) -> None:
        try:
            if self._lock.local.token is not None:
                await self._lock.release()
        except (LockError, RedisError):
            pass

    async def _wait(self, wait_s: float) -> None:
        if wait_s <= 0 or self._stopping.is_set():
            return
        timeout = min(IDLE_WAIT_S, wait_s)
        await self.redis.blpop([keys.notification_wake(self.endpoint.id)], timeout=timeout)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def deliver_due(self) -> float:
        """One pass over the queue's head: send what is due, in order per recording.
        Returns the seconds until the next message falls due (0: go again now)."""
        messages = await self.outbox.head(self.endpoint.id, BATCH)
        blocked: set[str] = set()
        next_due: float | None = None
        sent = 0
        for message in messages:
            if self._stopping.is_set():
                break
            if message.recording in blocked:
                continue
            if not await self._hold():  # renewed before each attempt: it outlasts one
                break
            delivery = message.deliveries.get(self.endpoint.id)
            now = await self._now_ms()
            due = delivery.due_ms if delivery is not None and delivery.due_ms else now
            if due > now:
                blocked.add(message.recording)
                wait = (due - now) / 1000
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            if not await self._attempt(message.id, message.body, message.created_ms):
                blocked.add(message.recording)
            sent += 1
        await self._gauge()
        if len(messages) == BATCH and sent:
            return 0.0
        return next_due if next_due is not None else IDLE_WAIT_S

    async def _attempt(self, message_id: str, body: bytes, created_ms: int) -> bool:
        """One POST; settle it. True if the message is done for this endpoint."""
        headers = self.signer.headers(message_id, body, int(time.time()))
        status: int | None = None
        error = ""
        try:
            answer = await self.http.post(
                self.endpoint.url, content=body, headers=headers, timeout=ATTEMPT_TIMEOUT_S
            )
            status = answer.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        label = _result_label(status)
        ep = self.endpoint.id
        self.metrics.attempts.labels(endpoint=ep, result=label).inc()
        now = await self._now_ms()
        last = f"HTTP {status}" if status is not None else error
        if status is not None and 200 <= status < 300:
            await self.outbox.settle(ep, message_id, Settle.DELIVERED, now_ms=now, last=last)
            self.metrics.delivered.labels(endpoint=ep).inc()
            return True
        if status == 410:
            await self.outbox.settle(ep, message_id, Settle.GONE, now_ms=now, last=last)
            self.metrics.failed.labels(endpoint=ep, reason="gone").inc()
            logger.warning("notification %s: endpoint %s answered 410; not retried", message_id, ep)
            return True
        attempts = await self._attempts(message_id) + 1
        due = self.schedule.next_due_ms(attempts=attempts, now_ms=now, created_ms=created_ms)
        if due is None:
            await self.outbox.settle(ep, message_id, Settle.FAILED, now_ms=now, last=last)
            self.metrics.failed.labels(endpoint=ep, reason="max_age").inc()
            logger.warning(
                "notification %s: endpoint %s failed after %d attempts (%s)",
                message_id,
                ep,
                attempts,
                last,
            )
            return True
        await self.outbox.settle(ep, message_id, Settle.RETRY, now_ms=now, last=last, due_ms=due)
        logger.info(
            "notification %s: endpoint %s answered %s; attempt %d, next in %.0f s",
            message_id,
            ep,
            last,
            attempts,
            (due - now) / 1000,
        )
        return False

    async def _attempts(self, message_id: str) -> int:
        raw = await self.redis.hget(keys.notification(message_id), f"at:{self.endpoint.id}")
        return int(raw) if raw is not None else 0
