"""The outbox of outgoing notifications, in Redis (design §4 "Outgoing notifications", I7).

A notification is written in the same step as the state change it reports (`stage` adds
it to the change's transaction; `append` writes it alone): its message hash (type, signed
body, the recording it is about), one entry in each endpoint's queue (ordered by a global
sequence), a wake-up for each endpoint's deliverer, the pending index and an entry of the
stream `autorec:notifications` for apps that consume a queue. Workers deliver from the
queues (`worker/notify/`) and settle each endpoint's delivery here (`settle`): delivered,
failed, gone (the receiver answered 410) or due again later.

Per message and endpoint the hash keeps `st:<ep>` (pending | delivered | failed | gone),
`at:<ep>` attempts, `due:<ep>` next attempt (ms), `last:<ep>` the last result and
`tried:<ep>` when.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from worker import keys
from worker.state.scripts import LuaScript

_APPEND: Final = LuaScript("worker.state", "outbox_append.lua")
_SETTLE: Final = LuaScript("worker.state", "outbox_settle.lua")

#: How long a message is kept (beyond any retry horizon).
MESSAGE_TTL_S: Final = 8 * 24 * 3600
#: How long a once-only guard is kept.
GUARD_TTL_S: Final = 8 * 24 * 3600
#: Entries kept in the delivered and failed indexes.
INDEX_SIZE: Final = 10_000


class NotificationType(StrEnum):
    """The lifecycle events an app is told of."""

    WAITING = "recording.waiting"
    STARTED = "recording.started"
    STOPPED = "recording.stopped"
    FAILED = "recording.failed"
    UPLOADED = "recording.uploaded"
    BACKUPED = "recording.backuped"


class DeliveryStatus(StrEnum):
    """One endpoint's delivery of one notification."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Retried until the maximum age without a 2xx."""
    GONE = "gone"
    """The receiver answered 410: no more retries of this message to it."""


class Settle(StrEnum):
    """What an attempt leads to."""

    DELIVERED = "delivered"
    FAILED = "failed"
    GONE = "gone"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A receiver of notifications; `id` is stable for its URL."""

    url: str

    @property
    def id(self) -> str:
        """A short stable name of the URL (the URL may hold a secret token)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One endpoint's delivery state of a notification."""

    endpoint: str
    status: DeliveryStatus
    attempts: int
    due_ms: int | None
    last: str | None
    tried_ms: int | None


@dataclass(frozen=True, slots=True)
class Notification:
    """One message of the outbox."""

    id: str
    type: NotificationType
    body: bytes
    recording: str
    created_ms: int
    seq: int
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, raw: Mapping[bytes, bytes]) -> Notification:
        """Decode a message hash."""
        text = {k.decode(): v for k, v in raw.items()}
        deliveries: dict[str, Delivery] = {}
        for name in text:
            if name.startswith("st:"):
                ep = name[3:]
                due = text.get(f"due:{ep}")
                last = text.get(f"last:{ep}")
                tried = text.get(f"tried:{ep}")
                deliveries[ep] = Delivery(
                    endpoint=ep,
                    status=DeliveryStatus(text[name].decode()),
                    attempts=int(text.get(f"at:{ep}", b"0")),
                    due_ms=int(due) if due is not None else None,
                    last=last.decode() if last is not None else None,
                    tried_ms=int(tried) if tried is not None else None,
                )
        return cls(
            id=text["id"].decode(),
            type=NotificationType(text["type"].decode()),
            body=text["body"],
            recording=text["recording"].decode(),
            created_ms=int(text["created_ms"]),
            seq=int(text["seq"]),
            deliveries=deliveries,
        )

    @property
    def status(self) -> DeliveryStatus:
        """Pending while any endpoint has it pending; else failed if any failed (or was
        gone); else delivered."""
        states = {d.status for d in self.deliveries.values()}
        if DeliveryStatus.PENDING in states:
            return DeliveryStatus.PENDING
        if states & {DeliveryStatus.FAILED, DeliveryStatus.GONE}:
            return DeliveryStatus.FAILED
        return DeliveryStatus.DELIVERED


def new_id() -> str:
    """A fresh message id (the `webhook-id` of every attempt)."""
    return f"msg_{secrets.token_hex(12)}"


class Outbox:
    """Writes, delivers from and lists the outbox for a set of endpoints."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        endpoints: Sequence[Endpoint],
        *,
        stream_maxlen: int = 10_000,
    ) -> None:
        self.redis = redis
        self.endpoints = tuple(endpoints)
        self.stream_maxlen = stream_maxlen

    def _append_run(
        self,
        message_id: str,
        kind: NotificationType,
        body: bytes,
        recording: str,
        now_ms: int,
        guard: str | None,
    ) -> tuple[list[str], list[Any]]:
        ids = [e.id for e in self.endpoints]
        message = keys.notification(message_id)
        run_keys = [
            message,
            keys.NOTIFICATION_SEQ,
            keys.NOTIFICATIONS_STREAM,
            keys.NOTIFICATIONS_PENDING,
            keys.notification_guard(guard) if guard is not None else message,
            *(keys.notification_queue(ep) for ep in ids),
            *(keys.notification_wake(ep) for ep in ids),
        ]
        args: list[Any] = [
            message_id,
            kind.value,
            body,
            recording,
            now_ms,
            self.stream_maxlen,
            MESSAGE_TTL_S,
            GUARD_TTL_S,
            len(ids),
            *ids,
        ]
        return run_keys, args

    def stage(
        self,
        pipe: Pipeline[bytes],
        kind: NotificationType,
        body: bytes,
        *,
        recording: str,
        now_ms: int,
        guard: str | None = None,
        message_id: str | None = None,
    ) -> str:
        """Add the notification to a transaction (its reply: the sequence, or 0 when the
        guard was already set); returns its id. EVAL, not EVALSHA: a script missing from
        Redis' cache must not fail inside a transaction whose other commands go through."""
        message_id = message_id or new_id()
        run_keys, args = self._append_run(message_id, kind, body, recording, now_ms, guard)
        pipe.eval(_APPEND.source, len(run_keys), *run_keys, *args)
        return message_id

    async def append(
        self,
        kind: NotificationType,
        body: bytes,
        *,
        recording: str,
        now_ms: int,
        guard: str | None = None,
    ) -> str | None:
        """Write one notification alone; its id, or None if its guard was already set."""
        message_id = new_id()
        run_keys, args = self._append_run(message_id, kind, body, recording, now_ms, guard)
        seq = await _APPEND.run(self.redis, keys=run_keys, args=args)
        return message_id if int(seq) > 0 else None

    # --- delivery ----------------------------------------------------------------------------

    async def head(self, endpoint: str, limit: int = 100) -> list[Notification]:
        """The endpoint's oldest pending notifications, in order."""
        ids = [
            i.decode()
            for i in await self.redis.zrange(keys.notification_queue(endpoint), 0, limit - 1)
        ]
        found: list[Notification] = []
        if not ids:
            return found
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hgetall(keys.notification(message_id))
            rows = await pipe.execute()
        for message_id, raw in zip(ids, rows, strict=True):
            if raw:
                found.append(Notification.from_fields(raw))
            else:  # expired: nothing left to deliver
                await self.redis.zrem(keys.notification_queue(endpoint), message_id)
        return found

    async def settle(
        self,
        endpoint: str,
        message_id: str,
        outcome: Settle,
        *,
        now_ms: int,
        last: str,
        due_ms: int | None = None,
    ) -> int:
        """Record an attempt's outcome; returns the attempts made so far."""
        reply = await _SETTLE.run(
            self.redis,
            keys=[
                keys.notification(message_id),
                keys.notification_queue(endpoint),
                keys.NOTIFICATIONS_PENDING,
                keys.NOTIFICATIONS_DELIVERED,
                keys.NOTIFICATIONS_FAILED,
            ],
            args=[message_id, endpoint, outcome.value, now_ms, due_ms or 0, last, INDEX_SIZE],
        )
        return int(reply)

    # --- reading and retrying ----------------------------------------------------------------

    async def get(self, message_id: str) -> Notification | None:
        """One notification, or None."""
        raw = await self.redis.hgetall(keys.notification(message_id))
        return Notification.from_fields(raw) if raw else None

    async def listing(self, status: DeliveryStatus, *, limit: int = 100) -> list[Notification]:
        """Notifications by status: pending oldest first, delivered and failed newest first."""
        if status is DeliveryStatus.PENDING:
            raw = await self.redis.zrange(keys.NOTIFICATIONS_PENDING, 0, limit - 1)
        else:
            index = (
                keys.NOTIFICATIONS_DELIVERED
                if status is DeliveryStatus.DELIVERED
                else keys.NOTIFICATIONS_FAILED
            )
            raw = await self.redis.zrevrange(index, 0, limit - 1)
        found = [await self.get(i.decode()) for i in raw]
        return [n for n in found if n is not None]

    async def oldest_pending_ms(self) -> int | None:
        """When the oldest pending notification was written (None: nothing pending).
        Entries whose message has expired are dropped from the index on the way."""
        while True:
            first = await self.redis.zrange(keys.NOTIFICATIONS_PENDING, 0, 0)
            if not first:
                return None
            message_id = first[0].decode()
            created = await self.redis.hget(keys.notification(message_id), "created_ms")
            if created is not None:
                return int(created)
            await self.redis.zrem(keys.NOTIFICATIONS_PENDING, message_id)

    async def retry(self, message_id: str, *, now_ms: int) -> bool:
        """Send a notification again (same id) to every configured endpoint that does not
        have it pending; False if there is no such message."""
        message = await self.get(message_id)
        if message is None:
            return False
        key = keys.notification(message_id)
        queued = 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for endpoint in self.endpoints:
                delivery = message.deliveries.get(endpoint.id)
                if delivery is not None and delivery.status is DeliveryStatus.PENDING:
                    continue
                queued += 1
                pipe.hset(
                    key,
                    mapping={f"st:{endpoint.id}": "pending", f"due:{endpoint.id}": now_ms},
                )
                pipe.zadd(keys.notification_queue(endpoint.id), {message_id: message.seq})
                pipe.lpush(keys.notification_wake(endpoint.id), "1")
            if queued or message.status is DeliveryStatus.PENDING:
                pipe.zadd(keys.NOTIFICATIONS_PENDING, {message_id: message.seq})
                pipe.zrem(keys.NOTIFICATIONS_FAILED, message_id)
                pipe.zrem(keys.NOTIFICATIONS_DELIVERED, message_id)
            pipe.persist(key)
            pipe.expire(key, MESSAGE_TTL_S)
            await pipe.execute()
        return True
