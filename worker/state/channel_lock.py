"""The per-channel controller lock: one reconcile acts on a channel at a time (I5).

`SET autorec:lock:<channel> <token> NX PX ttl`, kept alive by the holder (renewed every
third of the TTL while the block runs) and released by compare-and-delete, so a holder never
deletes a successor's lock. The TTL is short (seconds), so the lock of a worker that was
killed is free again soon and the periodic reconcile can take over the channel. A holder
that finds its lock lost (it stalled past the TTL) is cancelled rather than act beside a
successor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker import keys
from worker.state.scripts import LuaScript

logger = logging.getLogger(__name__)

_RELEASE: Final = LuaScript("worker.state", "channel_lock_release.lua")
_RENEW: Final = LuaScript("worker.state", "channel_lock_renew.lua")
_POLL_S: Final = 0.02


class ChannelBusy(Exception):
    """Another reconcile holds the channel's lock."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"channel {channel!r} is being reconciled by another job")
        self.channel = channel


async def _keep_alive(
    redis: aioredis.Redis[bytes], key: str, token: str, ttl_ms: int, holder: asyncio.Task[object]
) -> None:
    while True:
        await asyncio.sleep(ttl_ms / 3000)
        try:
            renewed = await _RENEW.run(redis, keys=[key], args=[token, ttl_ms])
        except RedisError as exc:
            logger.warning("lock %s: renewal failed: %s", key, exc)
            continue
        if not renewed:
            logger.error("lock %s was lost while held; cancelling its holder", key)
            holder.cancel()
            return


@asynccontextmanager
async def channel_lock(
    redis: aioredis.Redis[bytes], channel: str, *, ttl_ms: int, wait_s: float = 0.0
) -> AsyncIterator[None]:
    """Hold the channel's lock for the block; wait up to `wait_s`, else raise ChannelBusy."""
    token = secrets.token_hex(16)
    key = keys.lock(channel)
    deadline = time.monotonic() + wait_s
    while not await redis.set(key, token, nx=True, px=ttl_ms):
        if time.monotonic() >= deadline:
            raise ChannelBusy(channel)
        await asyncio.sleep(_POLL_S)
    holder = asyncio.current_task()
    assert holder is not None
    keeper = asyncio.create_task(_keep_alive(redis, key, token, ttl_ms, holder))
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await asyncio.shield(_RELEASE.run(redis, keys=[key], args=[token]))
