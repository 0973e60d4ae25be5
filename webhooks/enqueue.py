"""Durable, deduplicated enqueue of a webhook event: one Lua script, one Redis round trip.

The script sets the event id's dedupe key with a TTL covering the sender's retry horizon and,
only if it was new, XADDs the entry to the events stream (approximate MAXLEN). A retry of
the script after a lost reply is harmless: the dedupe key makes it answer "duplicate".
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from webhooks.errors import QueueUnavailable
from worker import keys

#: Stream field values as redis-py encodes them.
FieldValue = bytes | str | int


def load_script_source() -> str:
    """The Lua source of the enqueue script (shipped as package data)."""
    return files("webhooks").joinpath("enqueue.lua").read_text(encoding="utf-8")


class EventQueue:
    """Enqueue verified events into the events stream, at most once per event id."""

    __slots__ = ("_maxlen", "_script", "_stream", "_ttl_s")

    def __init__(
        self, redis: aioredis.Redis[bytes], *, stream: str, dedupe_ttl_s: int, stream_maxlen: int
    ) -> None:
        self._script: AsyncScript = redis.register_script(load_script_source())
        self._stream = stream
        self._ttl_s = dedupe_ttl_s
        self._maxlen = stream_maxlen

    @property
    def stream(self) -> str:
        """Name of the stream events go to."""
        return self._stream

    async def enqueue(self, event_id: str, fields: Mapping[str, FieldValue]) -> bool:
        """Add `fields` as one stream entry unless `event_id` was seen; True if added.

        Raises QueueUnavailable when Redis cannot be reached or refuses the write, so the
        caller never acknowledges an event that is not in Redis.
        """
        args: list[FieldValue] = [self._ttl_s, self._maxlen]
        for name, value in fields.items():
            args.append(name)
            args.append(value)
        try:
            entry_id = await self._script(keys=(keys.dedupe(event_id), self._stream), args=args)
        except RedisError as exc:
            raise QueueUnavailable(reason=f"{type(exc).__name__}: {exc}") from exc
        return entry_id is not None
