"""Redis clients for a `RedisTarget` (REDIS_URL): redis-py's asyncio client and arq's pool, for
one server and for a Sentinel set alike. Every process connects through here.

With Sentinel, each new connection asks the Sentinels for the current primary, and a write
that reaches a demoted primary (`READONLY`) drops the connection, so the next attempt finds
the new one. `Timeouts.failover_retry_s` lets a command wait out a failover instead of
failing: the worker rides through one this way, while the webhook service fails fast (503)
and lets the sender retry.

arq's own `RedisSettings(sentinel=True)` passes no timeouts or retries to its clients and
never closes the Sentinel connections it opens, so the worker's arq pool is built here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from worker.redis_target import RedisTarget

#: First pause between attempts while a failover runs; it doubles up to the cap.
FAILOVER_BACKOFF_BASE_S: Final = 0.05
FAILOVER_BACKOFF_CAP_S: Final = 0.5


@dataclass(frozen=True)
class Timeouts:
    """How a client waits: to connect, for an answer, and through a failover."""

    connect_s: float | None = None
    """Connecting to Redis (and to each Sentinel); None: the OS decides."""
    socket_s: float | None = None
    """One answer; None: no limit (a blocking read must stay below it)."""
    failover_retry_s: float = 0.0
    """With Sentinel: how long a command keeps retrying (with a new primary) after the
    connection failed; 0 retries once at once. Ignored for one server."""


#: The worker: wait out a failover (Sentinel elects a new primary in a few seconds).
WORKER_TIMEOUTS: Final = Timeouts(connect_s=1.0, socket_s=30.0, failover_retry_s=20.0)
#: One-shot commands (`autorec status`, the dev pre-flight ping).
COMMAND_TIMEOUTS: Final = Timeouts(connect_s=3.0, socket_s=5.0)


class SentinelRedis(Redis):  # type: ignore[type-arg]  # the stubs' Redis is generic
    """A client of a Sentinel-managed primary that also closes its Sentinel connections."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)  # type: ignore[misc]  # stubs predate redis 5
        await _close_sentinels(self)


class SentinelArqRedis(ArqRedis):
    """arq's pool on a Sentinel-managed primary; closing it closes the Sentinel connections
    (arq closes its pool when the worker stops)."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)  # type: ignore[misc]  # stubs predate redis 5
        await _close_sentinels(self)


async def _close_sentinels(client: Redis[bytes]) -> None:
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5


def connect(target: RedisTarget, timeouts: Timeouts = Timeouts(), **options: Any) -> Redis[bytes]:
    """A redis-py asyncio client (bytes replies) of `target`; nothing is connected yet.

    `options` go to the client as redis-py names them (e.g. `retry_on_error`).
    """
    if not target.is_sentinel:
        client: Redis[bytes] = Redis.from_url(
            target.url,
            socket_connect_timeout=timeouts.connect_s,
            socket_timeout=timeouts.socket_s,
            **options,
        )
        return client
    merged = {**_master_options(target, timeouts), **options}
    master: Redis[bytes] = _sentinel(target, timeouts).master_for(
        target.master, redis_class=SentinelRedis, **merged
    )
    return master


def arq_pool(target: RedisTarget, timeouts: Timeouts = WORKER_TIMEOUTS) -> ArqRedis:
    """arq's pool on the primary of a Sentinel set (a plain URL goes through `arq_settings`)."""
    if not target.is_sentinel:
        raise ValueError("arq_pool is for a Sentinel target; use arq_settings for one server")
    pool: ArqRedis = _sentinel(target, timeouts).master_for(
        target.master, redis_class=SentinelArqRedis, **_master_options(target, timeouts)
    )
    return pool


def arq_settings(target: RedisTarget) -> RedisSettings:
    """arq's RedisSettings for `target` (for a Sentinel set: what arq can express of it)."""
    if not target.is_sentinel:
        return RedisSettings.from_dsn(target.url)
    return RedisSettings(
        host=list(target.sentinels),
        sentinel=True,
        sentinel_master=target.master,
        database=target.db,
        username=target.username,
        password=target.password,
        ssl=target.ssl,
    )


def _sentinel(target: RedisTarget, timeouts: Timeouts) -> Sentinel:
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": timeouts.connect_s,
        "socket_timeout": timeouts.socket_s,
    }
    return Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)


def _master_options(target: RedisTarget, timeouts: Timeouts) -> dict[str, Any]:
    """Connection options of the primary's pool: credentials, TLS, timeouts, retries."""
    return {
        "db": target.db,
        "username": target.username,
        "password": target.password,
        "ssl": target.ssl,
        "socket_connect_timeout": timeouts.connect_s,
        "socket_timeout": timeouts.socket_s,
        "socket_keepalive": True,
        "retry": _failover_retry(timeouts.failover_retry_s),
        # A demoted primary's READONLY arrives as a ConnectionError (redis-py's Sentinel
        # connection turns it into one after dropping the connection).
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def _failover_retry(budget_s: float) -> Retry:
    """Attempts with doubling pauses (capped) that add up to about `budget_s`."""
    if budget_s <= 0:
        return Retry(NoBackoff(), 1)
    retries, waited_s = 0, 0.0
    while waited_s < budget_s:
        retries += 1
        waited_s += min(FAILOVER_BACKOFF_CAP_S, FAILOVER_BACKOFF_BASE_S * 2**retries)
    return Retry(
        ExponentialBackoff(cap=FAILOVER_BACKOFF_CAP_S, base=FAILOVER_BACKOFF_BASE_S), retries
    )


async def ping(target: RedisTarget) -> None:
    """PING the Redis of `target` once, with the short command timeouts and no retries;
    raises what the client raises when it cannot (for one-line startup errors)."""
    client = connect(target, COMMAND_TIMEOUTS)
    try:
        await client.ping()
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
