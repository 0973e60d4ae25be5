"""Forgetting a channel idle past a horizon: one script checks that nothing refers to it and
deletes its state (`forget_idle.lua`)."""

from __future__ import annotations

from typing import Final

import redis.asyncio as aioredis

from worker import keys
from worker.state.scripts import LuaScript

_FORGET_IDLE: Final = LuaScript("worker.state", "forget_idle.lua")


async def forget_if_idle(redis: aioredis.Redis[bytes], channel: str, horizon_ms: int) -> bool:
    """Delete the channel's hash, members, tombstones and recorders and its index entry if,
    now, nobody is present, it is not desired, has no session, slot lease, wait-queue entry,
    pending wake-up or lock, and neither its hash nor its index entry changed within
    `horizon_ms`. True: deleted."""
    deleted = await _FORGET_IDLE.run(
        redis,
        keys=[
            keys.channel(channel),
            keys.channel_members(channel),
            keys.channel_tombstones(channel),
            keys.channel_recorders(channel),
            keys.CHANNELS,
            keys.RECONCILE_DUE,
            keys.session(channel),
            keys.WAITING,
            keys.SLOTS,
            keys.lock(channel),
        ],
        args=[channel, horizon_ms],
    )
    return bool(deleted)
