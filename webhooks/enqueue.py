"""Durable, deduplicated enqueue of a webhook event: one Lua script, one Redis round trip.

Unless the event id's dedupe key exists, the script (`enqueue.lua`) XADDs the entry to the
events stream (approximate MAXLEN) and then sets the key, with a TTL covering the sender's
retry horizon; an XADD that fails leaves no key behind. Running it twice for one event is
harmless: the second run answers "duplicate". That is what makes the one retry below safe
after a connection drops mid-flight.

Requests that reach the queue in the same event-loop turn share one pipelined round trip
(each still runs its own script): under load this divides the client's per-command cost,
and a lone request waits no longer than one loop turn for company.

With a replica wait (`replica_ack_timeout_ms`, on by default when REDIS_URL names a
Sentinel set), each round trip ends with `WAIT 1 <ms>` and `ROLE`: while the primary has an
online replica, events no replica confirmed in time are refused (503), so a failover right
after a 200 cannot lose them. A duplicate refreshes its dedupe key, a write that makes the
`WAIT` after it cover the original event too. With Sentinel, the pooled connections come
from a Sentinel-managed pool: a demoted primary's READONLY drops the connection, and the one
retry below asks the Sentinels for the new primary.

Commands are packed by redis-py's synchronous connection, whose packer is hiredis's C
encoder (installed with `redis[hiredis]`): about 1.5 µs per event, against about 7 µs for
the pure-Python packer of redis-py's asyncio connection. The bytes are the same. The script's
SHA1 and its loading after Redis lost it (NOSCRIPT) come from worker/state/scripts.py, like
every Lua script of the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Final

import redis.asyncio as aioredis
from redis.connection import Connection as PackingConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from webhooks.errors import QueueUnavailable
from worker import keys
from worker.state.scripts import LuaScript

logger = logging.getLogger(__name__)

#: Most scripts sent in one round trip.
MAX_BATCH: Final = 256

_Pending = tuple[bytes, "asyncio.Future[bool]"]

#: A stream field value as it may be given: bytes as-is, str as UTF-8, int in decimal.
FieldValue = bytes | str | int


def _packer() -> Callable[..., list[bytes]]:
    """redis-py's command packer; the connection is never opened."""
    pack: Callable[..., list[bytes]] = PackingConnection().pack_command
    return pack


def command(*args: FieldValue) -> bytes:
    """One command in RESP, as redis-py sends it."""
    return b"".join(_pack(*args))


_pack = _packer()


_SCRIPT: Final = LuaScript("webhooks", "enqueue.lua")


class ReplicaAckTimeout(RedisError):
    """The primary has replicas and none confirmed holding the events in time."""


def _online_replicas(role: object) -> int:
    """Online replicas in a `ROLE` reply (0 when it is no primary's or an error)."""
    if isinstance(role, list) and len(role) >= 3 and role[0] == b"master":
        replicas = role[2]
        return len(replicas) if isinstance(replicas, list) else 0
    return 0


class EventQueue:
    """Enqueue verified events into the events stream, at most once per event id."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        *,
        stream: str,
        dedupe_ttl_s: int,
        stream_maxlen: int,
        replica_ack_timeout_ms: int = 0,
    ) -> None:
        self._redis = redis
        self._replica_ack_timeout_ms = replica_ack_timeout_ms
        #: Online replicas of the primary at the last round trip (None: not known yet).
        self._replicas: int | None = None
        self._stream = stream
        self._dedupe_ttl_s = dedupe_ttl_s
        self._stream_maxlen = stream_maxlen
        self._pending: list[_Pending] = []
        self._flushes: set[asyncio.Task[None]] = set()

    @property
    def sha(self) -> str:
        """SHA1 of the enqueue script, as `EVALSHA` names it."""
        return _SCRIPT.sha

    @property
    def stream(self) -> str:
        """Name of the stream events go to."""
        return self._stream

    async def load_script(self) -> None:
        """Load the script into Redis's script cache (done again whenever Redis lost it);
        with a replica wait, also learn whether the primary has replicas."""
        await _SCRIPT.load(self._redis)
        if self._replica_ack_timeout_ms > 0:
            (role,) = await self._send([command("ROLE")])
            self._replicas = _online_replicas(role)

    async def enqueue(self, source: str, event_id: str, fields: Mapping[str, FieldValue]) -> bool:
        """Add `fields` as one stream entry unless `source` sent `event_id` before; True if added.

        Raises QueueUnavailable when Redis cannot be reached or refuses the write, so the
        caller never acknowledges an event that is not in Redis.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((self.encode(source, event_id, fields), future))
        return await future

    def encode(self, source: str, event_id: str, fields: Mapping[str, FieldValue]) -> bytes:
        """The `EVALSHA` that enqueues `fields` unless `source` sent `event_id`, in RESP."""
        flat: list[FieldValue] = []
        for name, value in fields.items():
            flat += (name, value)
        return command(
            "EVALSHA",
            _SCRIPT.sha,
            2,
            keys.dedupe(source, event_id),
            self._stream,
            self._dedupe_ttl_s,
            self._stream_maxlen,
            *flat,
        )

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_BATCH):
            task = asyncio.create_task(self._run(pending[start : start + MAX_BATCH]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        replies: list[object]
        try:
            replies = await self._round_trip([payload for payload, _ in batch])
            redo = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if redo:
                # Redis restarted or flushed its script cache: load the script, run those again.
                await self.load_script()
                again = await self._round_trip([batch[n][0] for n in redo])
                for n, reply in zip(redo, again, strict=True):
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

    async def _round_trip(self, payloads: list[bytes]) -> list[object]:
        """Send encoded commands on one pooled connection; error replies come back as values.

        A dropped connection is retried once on a fresh one (the script is idempotent).
        With a replica wait, the round trip ends with `WAIT 1 <ms>` (when the primary had
        replicas at the last round trip) and `ROLE`.
        """
        extra = self._replication_commands()
        try:
            replies = await self._send(payloads + extra)
        except RedisConnectionError:
            replies = await self._send(payloads + extra)
        if not extra:
            return replies
        return self._judge_replication(replies[: len(payloads)], replies[len(payloads) :])

    def _replication_commands(self) -> list[bytes]:
        if self._replica_ack_timeout_ms <= 0:
            return []
        role = command("ROLE")
        if self._replicas == 0:
            return [role]
        return [command("WAIT", 1, self._replica_ack_timeout_ms), role]

    def _judge_replication(self, replies: list[object], extra: list[object]) -> list[object]:
        """`replies`, each write turned into an error when the primary has replicas and none
        acknowledged it in time (the sender retries; a retry is a "duplicate" only once
        a replica holds the event, since the script refreshes the dedupe key then)."""
        self._replicas = _online_replicas(extra[-1])
        if len(extra) == 1 or self._replicas == 0:
            return replies
        acked = extra[0]
        if isinstance(acked, int) and acked >= 1:
            return replies
        refused = ReplicaAckTimeout(
            f"no replica acknowledged within {self._replica_ack_timeout_ms} ms"
        )
        return [reply if isinstance(reply, BaseException) else refused for reply in replies]

    async def _send(self, payloads: list[bytes]) -> list[object]:
        pool = self._redis.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(payloads, check_health=False)
            replies: list[object] = []
            for _ in payloads:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as exc:
                    replies.append(exc)
        except BaseException:
            # Replies may be left unread on this connection: never reuse it.
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)
        return replies

    async def aclose(self) -> None:
        """Wait for the round trips in flight."""
        while self._pending or self._flushes:
            if self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
            else:
                await asyncio.sleep(0)
