"""The test Redis is a real server: Lua, TIME and streams with consumer groups work."""

from __future__ import annotations

import redis.asyncio as aioredis

from worker.dev.redis_server import RedisServer


async def test_redis_fixture_runs_lua_with_server_time(redis: aioredis.Redis) -> None:
    now = await redis.eval("return redis.call('TIME')[1]", 0)
    assert int(now) > 1_600_000_000


async def test_redis_fixture_supports_consumer_groups_and_autoclaim(redis: aioredis.Redis) -> None:
    await redis.xgroup_create("s", "g", id="0", mkstream=True)
    await redis.xadd("s", {"k": "v"})
    await redis.xreadgroup("g", "c1", {"s": ">"})
    _, claimed, *_ = await redis.xautoclaim("s", "g", "c2", min_idle_time=0)
    assert len(claimed) == 1


def test_private_server_stops_and_frees_its_port() -> None:
    server = RedisServer().start()
    assert server.ping()
    server.cleanup()
    assert not server.ping()
