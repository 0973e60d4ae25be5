"""Delivery of the outbox to real HTTP receivers, verified with the official Standard
Webhooks verifier: order per recording, retries with the same id, 410, dead endpoints."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from standardwebhooks.webhooks import Webhook

from tests.support.receiver import Receiver, receiver
from tests.support.waiting import eventually
from worker.notify.deliver import Deliverer
from worker.notify.metrics import NotifyMetrics
from worker.notify.schedule import RetrySchedule
from worker.notify.signing import Signer
from worker.state.outbox import DeliveryStatus, Endpoint, NotificationType, Outbox

SECRET = "whsec_" + base64.b64encode(b"autorec-notify-test-secret-32by").decode()
FAST = RetrySchedule(delays_s=(0.2, 0.4), max_age_s=3600)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class Running:
    """Deliverers running for some endpoints over one outbox."""

    def __init__(self, redis: aioredis.Redis, urls: list[str], schedule: RetrySchedule) -> None:
        self.outbox = Outbox(redis, [Endpoint(u) for u in urls])
        self.redis = redis
        self.schedule = schedule
        self.metrics = NotifyMetrics.create(CollectorRegistry())
        self.tasks: list[asyncio.Task[None]] = []
        self.deliverers: list[Deliverer] = []

    def start(self, http: httpx.AsyncClient, copies: int = 1) -> None:
        for endpoint in self.outbox.endpoints:
            for _ in range(copies):
                deliverer = Deliverer(
                    self.redis, self.outbox, endpoint, http=http, signer=Signer(SECRET),
                    schedule=self.schedule, metrics=self.metrics,
                )  # fmt: skip
                self.deliverers.append(deliverer)
                self.tasks.append(asyncio.create_task(deliverer.run()))

    async def stop(self) -> None:
        for deliverer in self.deliverers:
            deliverer.stop()
        await asyncio.gather(*self.tasks)

    async def send(self, recording: str, n: int, kind: NotificationType) -> str:
        seconds, micros = await self.redis.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        body = orjson.dumps({"type": kind.value, "n": n, "recording": recording})
        message = await self.outbox.append(kind, body, recording=recording, now_ms=now)
        assert message is not None
        return message


def verified(received: Receiver) -> list[dict[str, object]]:
    """The delivered bodies, each checked with the official verifier."""
    webhook = Webhook(SECRET)
    return [webhook.verify(r.body, r.headers) for r in received.delivered()]


async def test_notifications_are_delivered_in_order_and_signed_per_standard_webhooks(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        running = Running(redis, [hooks.url], FAST)
        running.start(http)
        for n, kind in enumerate(
            [NotificationType.STARTED, NotificationType.STOPPED, NotificationType.UPLOADED]
        ):
            await running.send("room-1:1", n, kind)
        await eventually(lambda: len(hooks.delivered()) == 3, what="three deliveries")
        await running.stop()

    bodies = verified(hooks)
    assert [b["n"] for b in bodies] == [0, 1, 2]
    assert [b["type"] for b in bodies] == [
        "recording.started", "recording.stopped", "recording.uploaded"
    ]  # fmt: skip
    assert await running.outbox.oldest_pending_ms() is None


async def test_a_receiver_answering_500_gets_the_same_id_again_until_it_recovers(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        hooks.answer(500, 500, 200)
        running = Running(redis, [hooks.url], FAST)
        running.start(http)
        message = await running.send("room-1:1", 0, NotificationType.STARTED)
        await eventually(lambda: len(hooks.delivered()) == 1, what="the delivery")
        await running.stop()

    assert [r.status for r in hooks.received] == [500, 500, 200]
    assert {r.headers["webhook-id"] for r in hooks.received} == {message}
    stored = await running.outbox.get(message)
    assert stored is not None
    assert stored.status is DeliveryStatus.DELIVERED
    (delivery,) = stored.deliveries.values()
    assert delivery.attempts == 3
    assert verified(hooks)[0]["n"] == 0


async def test_a_receiver_answering_410_is_not_tried_again(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        hooks.answer(410)
        running = Running(redis, [hooks.url], FAST)
        running.start(http)
        message = await running.send("room-1:1", 0, NotificationType.STARTED)
        await eventually(lambda: len(hooks.received) == 1, what="the attempt")
        listed = await running.outbox.listing(DeliveryStatus.FAILED)
        await asyncio.sleep(FAST.delays_s[-1] * 3)  # what a retry would have taken, thrice
        await running.stop()

    assert len(hooks.received) == 1
    assert [n.id for n in listed] == [message]
    stored = await running.outbox.get(message)
    assert stored is not None
    assert [d.status for d in stored.deliveries.values()] == [DeliveryStatus.GONE]


async def test_a_later_message_of_a_recording_waits_for_an_earlier_one_others_go_on(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        hooks.answer(503, 200)
        running = Running(redis, [hooks.url], RetrySchedule(delays_s=(1.0,), max_age_s=3600))
        await running.send("room-1:1", 0, NotificationType.STARTED)
        await running.send("room-1:1", 1, NotificationType.STOPPED)
        await running.send("room-2:1", 2, NotificationType.STARTED)
        running.start(http)
        await eventually(lambda: len(hooks.delivered()) == 3, what="every delivery")
        await running.stop()

    assert [b["n"] for b in verified(hooks)] == [2, 0, 1]


async def test_a_dead_endpoint_never_delays_a_live_one(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as alive, receiver() as dead:
        dead.answer(500)
        running = Running(redis, [dead.url, alive.url], FAST)
        running.start(http)
        loop = asyncio.get_running_loop()
        delays = []
        for n in range(5):
            sent = loop.time()
            alive.arrived.clear()
            await running.send(f"room-{n}:1", n, NotificationType.STARTED)
            await asyncio.wait_for(alive.arrived.wait(), 5)
            delays.append(loop.time() - sent)
        await running.stop()

    assert max(delays) < 1.0, delays
    assert len(alive.delivered()) == 5
    assert dead.delivered() == []


async def test_two_workers_deliver_one_endpoint_once_and_in_order(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        running = Running(redis, [hooks.url], FAST)
        running.start(http, copies=2)
        for n in range(20):
            await running.send("room-1:1", n, NotificationType.STARTED)
        await eventually(lambda: len(hooks.delivered()) >= 20, what="twenty deliveries")
        await asyncio.sleep(0.3)  # a duplicate would have arrived by now
        await running.stop()

    assert [b["n"] for b in verified(hooks)] == list(range(20))


async def test_a_notification_past_its_maximum_age_is_failed(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        hooks.answer(500)
        running = Running(redis, [hooks.url], RetrySchedule(delays_s=(0.2,), max_age_s=0.5))
        now_s, _ = await redis.time()
        body = b'{"n": 0}'
        message = await running.outbox.append(
            NotificationType.STARTED, body, recording="r:1", now_ms=int(now_s) * 1000
        )
        running.start(http)

        async def failed() -> bool:
            stored = await running.outbox.get(str(message))
            return stored is not None and stored.status is DeliveryStatus.FAILED

        await eventually(failed, what="the message to fail")
        await running.stop()

    assert 1 <= len(hooks.received) <= 4
    assert [n.id for n in await running.outbox.listing(DeliveryStatus.FAILED)] == [message]


async def test_retry_sends_a_failed_notification_again_with_the_same_id(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        hooks.answer(410, 200)
        running = Running(redis, [hooks.url], FAST)
        running.start(http)
        message = await running.send("room-1:1", 0, NotificationType.STOPPED)
        await eventually(lambda: len(hooks.received) == 1, what="the refused attempt")
        assert await running.outbox.retry(message, now_ms=1_700_000_000_000)
        await eventually(lambda: len(hooks.delivered()) == 1, what="the delivery")
        await running.stop()

    assert [r.headers["webhook-id"] for r in hooks.received] == [message, message]
    assert [n.id for n in await running.outbox.listing(DeliveryStatus.DELIVERED)] == [message]


async def test_retry_of_a_delivered_notification_sends_it_once_more(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        running = Running(redis, [hooks.url], FAST)
        running.start(http)
        message = await running.send("room-1:1", 0, NotificationType.STOPPED)
        await eventually(lambda: len(hooks.delivered()) == 1, what="the delivery")
        assert await running.outbox.retry(message, now_ms=1_700_000_000_000)
        await eventually(lambda: len(hooks.delivered()) == 2, what="the second delivery")
        await running.stop()

    assert await running.outbox.oldest_pending_ms() is None
    assert [n.id for n in await running.outbox.listing(DeliveryStatus.PENDING)] == []


async def test_retry_without_endpoints_leaves_nothing_pending(redis: aioredis.Redis) -> None:
    outbox = Outbox(redis, [])
    message = await outbox.append(
        NotificationType.STOPPED, b"{}", recording="r:1", now_ms=1_700_000_000_000
    )
    assert message is not None
    assert await outbox.retry(message, now_ms=1_700_000_000_001)
    assert await outbox.oldest_pending_ms() is None


async def test_an_expired_pending_message_does_not_hide_the_next_one(
    redis: aioredis.Redis,
) -> None:
    outbox = Outbox(redis, [Endpoint("http://127.0.0.1:9/x")])
    first = await outbox.append(NotificationType.STARTED, b"{}", recording="a:1", now_ms=1_000)
    await outbox.append(NotificationType.STARTED, b"{}", recording="b:1", now_ms=2_000)
    await redis.delete(f"autorec:ntf:m:{first}")
    assert await outbox.oldest_pending_ms() == 2_000
