"""`GET /api/v1/status`: slots, the FIFO queue, Agora's request rate, the stream, workers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import redis.asyncio as aioredis

from tests.support.webhooks import STREAM, bearer, serve
from worker import keys
from worker.dev.redis_server import RedisServer
from worker.settings import Settings
from worker.state.ratelimit import RateLimiter
from worker.state.slots import Slots


async def get_status(client: httpx.AsyncClient) -> dict[str, object]:
    answer = await client.get("/api/v1/status", headers=bearer())
    assert answer.status_code == 200
    status: dict[str, object] = answer.json()
    return status


async def test_an_empty_redis_shows_no_slot_used_of_the_limit(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    status = await get_status(client)

    assert status["slots"] == {"used": 0, "limit": settings.autorec_max_recordings}
    assert (status["waiting"], status["waiting_total"]) == ([], 0)
    assert status["agora_requests"] == {
        "last_second": 0,
        "limit_per_s": settings.autorec_max_api_qps,
    }
    assert status["events"] == {"stream": STREAM, "length": 0, "pending": 0, "dead_letters": 0}
    assert status["workers"] == []
    assert str(status["now"]).endswith("Z")


async def test_waiting_channels_are_listed_in_fifo_order(
    settings: Settings, redis: aioredis.Redis
) -> None:
    slots = Slots(redis, limit=1)
    for channel in ("first", "second", "third", "fourth"):
        await slots.acquire(channel)
    await slots.leave_queue("third")

    async with serve(settings.model_copy(update={"autorec_max_recordings": 1})) as client:
        status = await get_status(client)

    assert status["slots"] == {"used": 1, "limit": 1}
    assert (status["waiting"], status["waiting_total"]) == (["second", "fourth"], 2)


async def test_agora_requests_of_the_last_second_are_counted(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    limiter = RateLimiter(redis, qps=10)
    for _ in range(3):
        await limiter.acquire()

    status = await get_status(client)

    assert status["agora_requests"] == {"last_second": 3, "limit_per_s": 10.0}


async def test_the_stream_its_pending_entries_dead_letters_and_workers_are_shown(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    await redis.xgroup_create(STREAM, keys.CONSUMER_GROUP, id="0", mkstream=True)
    for n in range(3):
        await redis.xadd(STREAM, {keys.FIELD_EVENT: f'{{"id":"e{n}"}}'})
    await redis.xreadgroup(keys.CONSUMER_GROUP, "worker-a", {STREAM: ">"}, count=2)
    await redis.xreadgroup(keys.CONSUMER_GROUP, "worker-b", {STREAM: ">"}, count=1)
    await redis.xadd(keys.dead_letter(STREAM), {"dl_reason": "malformed"})
    seconds, micros = await redis.time()
    redis_now_s = seconds + micros / 1e6

    status = await get_status(client)

    assert status["events"] == {"stream": STREAM, "length": 3, "pending": 3, "dead_letters": 1}
    workers = status["workers"]
    assert isinstance(workers, list)
    assert {worker["name"]: worker["pending"] for worker in workers} == {
        "worker-a": 2,
        "worker-b": 1,
    }
    for worker in workers:
        seen_s = datetime.fromisoformat(worker["last_seen_at"]).timestamp()
        assert abs(seen_s - redis_now_s) < 5


async def test_status_answers_503_while_redis_is_down(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory()
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        assert (await client.get("/api/v1/status", headers=bearer())).status_code == 200
        server.stop()
        down = await client.get("/api/v1/status", headers=bearer())
        server.start()
        back = await client.get("/api/v1/status", headers=bearer())

    assert (down.status_code, down.json()) == (503, {"error": "Redis unavailable"})
    assert back.status_code == 200


async def test_tokens_are_still_made_while_redis_is_down(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory()
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        server.stop()
        answer = await client.post(
            "/api/v1/tokens", json={"channel": "room-1", "uid": 42}, headers=bearer()
        )

    assert answer.status_code == 200
