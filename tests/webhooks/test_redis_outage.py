"""Redis down → 503, never 200; after it returns, every accepted event is in the stream."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import httpx
import orjson
import redis.asyncio as aioredis

from tests.support.waiting import eventually
from tests.support.webhooks import STREAM, ncs_body, ncs_headers, serve
from webhooks.app import REDIS_SOCKET_TIMEOUT_S
from worker.dev.redis_server import RedisServer
from worker.settings import Settings


class Sender:
    """Posts distinct signed notifications one after another, recording each answer."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.answers: list[tuple[str, int]] = []
        self.running = True

    def count(self, status: int) -> int:
        return sum(1 for _, answered in self.answers if answered == status)

    async def run(self) -> None:
        n = 0
        while self.running:
            notice_id = f"n-{n}"
            body = ncs_body(notice_id)
            response = await self.client.post(
                "/webhooks/agora", content=body, headers=ncs_headers(body)
            )
            self.answers.append((notice_id, response.status_code))
            n += 1


async def _notice_ids_in_stream(url: str) -> set[str]:
    client = aioredis.Redis.from_url(url)
    try:
        entries = await client.xrange(STREAM)
    finally:
        await client.aclose()
    return {orjson.loads(fields[b"ncs"])["noticeId"] for _, fields in entries}


async def test_no_accepted_event_is_lost_across_a_redis_restart(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory(appendonly=True)
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        sender = Sender(client)
        sending = asyncio.create_task(sender.run())
        try:
            await eventually(lambda: sender.count(200) >= 30, what="30 accepted events")
            server.stop()  # SIGTERM: Redis writes its AOF out before exiting
            await eventually(lambda: sender.count(503) >= 5, what="503s while Redis is down")
            assert (await client.get("/readyz")).status_code == 503
            server.start()  # same port, same data directory
            accepted_before = sender.count(200)
            await eventually(
                lambda: sender.count(200) >= accepted_before + 30,
                what="accepted events after Redis returned",
            )
        finally:
            sender.running = False
            await sending
        assert (await client.get("/readyz")).status_code == 200

    assert {status for _, status in sender.answers} == {200, 503}
    accepted = {notice_id for notice_id, status in sender.answers if status == 200}
    in_stream = await _notice_ids_in_stream(server.url)
    # A 503 may still have been applied if Redis died after running the script but before
    # replying; the sender retries it and gets "duplicate". A 200 must always be there.
    assert accepted <= in_stream


async def test_a_refused_event_is_accepted_when_its_sender_retries(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory(appendonly=True)
    body = ncs_body("n-retried")
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        server.stop()
        refused = await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
        server.start()
        retried = await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
    assert (refused.status_code, retried.status_code) == (503, 200)
    assert await _notice_ids_in_stream(server.url) == {"n-retried"}


async def test_a_hung_redis_answers_503_within_the_socket_timeout(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory()
    assert server.process is not None
    body = ncs_body("n-hung")
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            response = await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
            elapsed_s = time.monotonic() - started
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert response.status_code == 503
        assert elapsed_s < 3 * REDIS_SOCKET_TIMEOUT_S
        # Whether or not Redis still runs the timed-out script once it resumes, the sender's
        # retry is answered 200 and the event is stored once.
        retried = await client.post("/webhooks/agora", content=body, headers=ncs_headers(body))
        assert retried.status_code == 200
    assert await _notice_ids_in_stream(server.url) == {"n-hung"}
