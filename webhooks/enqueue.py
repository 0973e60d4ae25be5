"""Durable, deduplicated enqueue of a webhook event: one Lua script, one Redis round trip.

The script sets the event id's dedupe key with a TTL covering the sender's retry horizon and,
only if it was new, XADDs the entry to the events stream (approximate MAXLEN). Running it
twice for one event is harmless: the second run answers "duplicate".

Requests that reach the queue in the same event-loop turn share one pipelined round trip
(each still runs its own script): under load this divides the client's per-command cost,
and a single request waits no longer than one loop turn for company.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from importlib.resources import files
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from webhooks.errors import QueueUnavailable
from worker import keys

logger = logging.getLogger(__name__)

#: Stream field values as redis-py encodes them.
FieldValue = bytes | str | int

#: Most scripts sent in one pipeline.
MAX_BATCH: Final = 256


def load_script_source() -> str:
    """The Lua source of the enqueue script (shipped as package data)."""
    return files("webhooks").joinpath("enqueue.lua").read_text(encoding="utf-8")


_Pending = tuple[list[FieldValue], "asyncio.Future[bool]"]


class EventQueue:
    """Enqueue verified events into the events stream, at most once per event id."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        *,
        stream: str,
        dedupe_ttl_s: int,
        stream_maxlen: int,
    ) -> None:
        self._redis = redis
        self._source = load_script_source().encode("utf-8")
        self._sha = hashlib.sha1(self._source, usedforsecurity=False).hexdigest()
        self._stream = stream
        self._ttl_s = dedupe_ttl_s
        self._maxlen = stream_maxlen
        self._pending: list[_Pending] = []
        self._flushes: set[asyncio.Task[None]] = set()

    async def load_script(self) -> None:
        """Load the script into Redis's script cache (done again whenever Redis lost it)."""
        sha = await self._redis.script_load(self._source)  # type: ignore[no-untyped-call]
        if sha != self._sha:
            raise RuntimeError("Redis computed another SHA1 for the enqueue script")

    @property
    def stream(self) -> str:
        """Name of the stream events go to."""
        return self._stream

    async def enqueue(self, event_id: str, fields: Mapping[str, FieldValue]) -> bool:
        """Add `fields` as one stream entry unless `event_id` was seen; True if added.

        Raises QueueUnavailable when Redis cannot be reached or refuses the write, so the
        caller never acknowledges an event that is not in Redis.
        """
        args: list[FieldValue] = [keys.dedupe(event_id), self._stream, self._ttl_s, self._maxlen]
        for name, value in fields.items():
            args.append(name)
            args.append(value)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((args, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_BATCH):
            task = asyncio.create_task(self._run(pending[start : start + MAX_BATCH]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            replies = await self._execute([args for args, _ in batch])
            if any(isinstance(reply, NoScriptError) for reply in replies):
                # Redis restarted or flushed its script cache: load the script once, retry those.
                await self.load_script()
                redo = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
                for n, reply in zip(
                    redo, await self._execute([batch[n][0] for n in redo]), strict=True
                ):
                    replies[n] = reply
        except RedisError as exc:
            replies = [exc] * len(batch)
        except Exception as exc:
            logger.exception("enqueue round trip failed unexpectedly")
            replies = [exc] * len(batch)
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, BaseException):
                future.set_exception(QueueUnavailable(reason=f"{type(reply).__name__}: {reply}"))
            else:
                future.set_result(reply is not None)

    async def _execute(self, commands: list[list[FieldValue]]) -> list[object]:
        pipe = self._redis.pipeline(transaction=False)
        for args in commands:
            pipe.evalsha(self._sha, 2, *args)
        replies: list[object] = await pipe.execute(raise_on_error=False)
        return replies

    async def aclose(self) -> None:
        """Wait for the round trips in flight."""
        while self._pending or self._flushes:
            if self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
            else:
                await asyncio.sleep(0)
