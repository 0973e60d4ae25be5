"""Lua scripts run by SHA1 against real Redis: replies, a lost script cache, pipelines."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from worker.state.scripts import LuaScript

ADD = LuaScript("tests.worker.state", "add.lua")
COUNTER = "autorec:test:counter"


async def calls(redis: aioredis.Redis, command: str) -> int:
    """How often Redis ran `command` since the statistics were last reset."""
    stats: dict[str, dict[str, Any]] = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_the_sha_names_the_source_shipped_beside_the_owner() -> None:
    assert ADD.source == Path(__file__).with_name("add.lua").read_bytes()
    assert ADD.sha == hashlib.sha1(ADD.source, usedforsecurity=False).hexdigest()


def test_a_missing_script_file_fails_when_the_owner_is_imported() -> None:
    with pytest.raises(FileNotFoundError):
        LuaScript("tests.worker.state", "no-such-script.lua")


@pytest.mark.parametrize("package", ["worker.state", "webhooks"])
async def test_every_shipped_script_compiles_in_redis(redis: aioredis.Redis, package: str) -> None:
    names = [f.name for f in resources.files(package).iterdir() if f.name.endswith(".lua")]
    assert names
    for name in names:
        await LuaScript(package, name).load(redis)


async def test_a_script_runs_and_returns_its_reply(redis: aioredis.Redis) -> None:
    assert await ADD.run(redis, keys=[COUNTER], args=[5]) == 5
    assert await ADD.run(redis, keys=[COUNTER], args=[2]) == 7


async def test_a_cached_script_runs_by_its_sha_alone(redis: aioredis.Redis) -> None:
    await ADD.load(redis)
    await redis.config_resetstat()
    await ADD.run(redis, keys=[COUNTER], args=[1])
    assert (await calls(redis, "evalsha"), await calls(redis, "eval")) == (1, 0)


async def test_load_puts_the_script_into_the_cache_under_its_sha(redis: aioredis.Redis) -> None:
    await redis.script_flush()
    await ADD.load(redis)
    assert await redis.script_exists(ADD.sha) == [True]


async def test_a_run_after_a_script_flush_runs_once_and_caches_the_script_again(
    redis: aioredis.Redis,
) -> None:
    await ADD.run(redis, keys=[COUNTER], args=[1])
    await redis.script_flush()
    assert await ADD.run(redis, keys=[COUNTER], args=[1]) == 2
    assert await redis.script_exists(ADD.sha) == [True]


async def test_a_script_error_is_raised_to_the_caller(redis: aioredis.Redis) -> None:
    await redis.set(COUNTER, "not a number")
    with pytest.raises(ResponseError, match="not an integer"):
        await ADD.run(redis, keys=[COUNTER], args=[1])


async def test_runs_queued_on_a_pipeline_share_it_with_other_commands(
    redis: aioredis.Redis,
) -> None:
    await ADD.load(redis)
    async with redis.pipeline(transaction=True) as pipe:
        ADD.queue(pipe, keys=[COUNTER], args=[3])
        pipe.get(COUNTER)
        ADD.queue(pipe, keys=[COUNTER], args=[4])
        assert await pipe.execute() == [3, b"3", 7]


async def test_pipelined_runs_reply_in_order(redis: aioredis.Redis) -> None:
    runs = [([COUNTER], [n]) for n in (1, 2, 3)]
    assert await ADD.run_pipelined(redis, runs) == [1, 3, 6]


async def test_pipelined_runs_after_a_script_flush_each_run_once(redis: aioredis.Redis) -> None:
    await ADD.load(redis)
    await redis.script_flush()
    runs = [([COUNTER], [n]) for n in (1, 2, 3)]
    assert await ADD.run_pipelined(redis, runs) == [1, 3, 6]
    assert await redis.get(COUNTER) == b"6"


async def test_a_failing_pipelined_run_is_its_reply_and_the_others_still_run(
    redis: aioredis.Redis,
) -> None:
    await redis.set("autorec:test:text", "not a number")
    runs = [([COUNTER], [1]), (["autorec:test:text"], [1]), ([COUNTER], [1])]
    first, failed, last = await ADD.run_pipelined(redis, runs)
    assert (first, last) == (1, 2)
    assert isinstance(failed, ResponseError)


async def test_commands_queued_after_pipelined_runs_are_sent_with_them(
    redis: aioredis.Redis,
) -> None:
    def mark(pipe: Pipeline[Any]) -> None:
        pipe.set("autorec:test:mark", "1")

    assert await ADD.run_pipelined(redis, [([COUNTER], [1])], queue_after=mark) == [1]
    assert await redis.get("autorec:test:mark") == b"1"


async def test_no_runs_send_nothing(redis: aioredis.Redis) -> None:
    await redis.config_resetstat()
    assert await ADD.run_pipelined(redis, []) == []
    assert await calls(redis, "evalsha") == 0


async def test_a_decoding_client_gets_the_same_answers(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.flushdb()
        await client.script_flush()
        await ADD.load(client)
        assert await ADD.run(client, keys=[COUNTER], args=[2]) == 2
        assert await ADD.run_pipelined(client, [([COUNTER], [1])]) == [3]
    finally:
        await client.aclose()
