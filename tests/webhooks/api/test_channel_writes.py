"""Channel writes of the API without a worker: what they store, and nothing when Redis is
down."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import redis.asyncio as aioredis
from arq.constants import default_queue_name

from tests.support.webhooks import bearer, serve
from worker import keys
from worker.dev.redis_server import RedisServer
from worker.settings import Settings


async def test_record_now_answers_202_with_the_channel_starting_and_queues_its_reconcile(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    answer = await client.post(
        "/api/v1/channels/room-1/recording",
        json={"mode": "individual", "streams": "audio", "expires_at": "2099-01-01T00:00:00Z"},
        headers=bearer(),
    )

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["channel"], body["state"], body["desired"]) == ("room-1", "idle", True)
    assert body["override"]["record"] == "always"
    assert body["override"]["expires_at"] == "2099-01-01T00:00:00Z"
    assert await redis.zcard(default_queue_name) == 1


async def test_an_unknown_channel_is_404_and_a_stop_of_it_leaves_nothing(
    client: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    assert (await client.get("/api/v1/channels/nobody", headers=bearer())).status_code == 404
    stop = await client.delete("/api/v1/channels/nobody/recording", headers=bearer())
    assert stop.status_code == 204
    assert (await client.get("/api/v1/channels", headers=bearer())).json() == {
        "channels": [],
        "next_cursor": None,
    }


async def test_channels_page_by_name_and_filter_by_state(client: httpx.AsyncClient) -> None:
    for name in ("a-1", "b-2", "c-3"):
        answer = await client.post(f"/api/v1/channels/{name}/recording", headers=bearer())
        assert answer.status_code == 202
    never = await client.put(
        "/api/v1/channels/d-4/override", json={"record": "never"}, headers=bearer()
    )
    assert never.status_code == 200

    first = (await client.get("/api/v1/channels?limit=2", headers=bearer())).json()
    rest = await client.get(f"/api/v1/channels?cursor={first['next_cursor']}", headers=bearer())
    idle = await client.get("/api/v1/channels?state=recording", headers=bearer())
    bad = await client.get("/api/v1/channels?state=sleeping", headers=bearer())

    assert [c["channel"] for c in first["channels"]] == ["a-1", "b-2"]
    assert [c["channel"] for c in rest.json()["channels"]] == ["c-3", "d-4"]
    assert rest.json()["next_cursor"] is None
    assert idle.json()["channels"] == []
    assert (bad.status_code, bad.json()["field"]) == (400, "state")


async def test_a_change_of_a_channel_that_records_nothing_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.patch(
        "/api/v1/channels/room-1/recording",
        json={"layout": {"mixed_video_layout": 1}},
        headers=bearer(),
    )
    assert answer.status_code == 409


async def test_record_now_while_redis_is_down_answers_503_and_writes_nothing(
    settings: Settings, redis_server_factory: Callable[..., RedisServer]
) -> None:
    server = redis_server_factory()
    async with serve(settings.model_copy(update={"redis_url": server.url})) as client:
        server.stop()
        down = await client.post("/api/v1/channels/room-1/recording", headers=bearer())
        server.start()
        after = await client.get("/api/v1/channels/room-1", headers=bearer())

    assert (down.status_code, down.json()) == (503, {"error": "Redis unavailable"})
    assert after.status_code == 404
    probe = aioredis.Redis.from_url(server.url)
    try:
        assert await probe.exists(keys.override("room-1"), default_queue_name) == 0
    finally:
        await probe.aclose()
