"""The per-channel controller lock: one reconcile acts on a channel at a time (I5).

`SET autorec:lock:<channel> <token> NX PX ttl`, released by compare-and-delete, so a holder
that outlived its TTL never deletes a successor's lock. The TTL is above the reconcile job's
timeout: a job is cancelled (and its lock released) before the lock could expire under it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import redis.asyncio as aioredis

from worker import keys

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_POLL_S: Final = 0.02


class ChannelBusy(Exception):
    """Another reconcile holds the channel's lock."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"channel {channel!r} is being reconciled by another job")
        self.channel = channel


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
    try:
        yield
    finally:
        await asyncio.shield(redis.eval(_RELEASE, 1, key, token))  # type: ignore[no-untyped-call]
