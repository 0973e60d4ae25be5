"""Lost events: notifications the webhook service accepted (answered 200) that never went
through the consumer's apply step.

The consumer applies a channel event and acknowledges its stream entry in one Lua script
(recording events are acknowledged once handled), so "applied" is "acknowledged by the
consumer group". An accepted notification is lost when, once the stream has been drained:
its `noticeId` is in no entry of the events stream (Redis lost an acknowledged write), or its
entry was never delivered to the group, is still pending, or went to the dead-letter stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from worker import keys

STREAM = "autorec:events"
DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StreamAudit:
    """What the events stream holds once drained."""

    notice_entries: dict[str, list[str]]
    """noticeId → ids of the entries that carry it."""
    pending: frozenset[str]
    last_delivered: str
    dead_letters: frozenset[str]
    """noticeIds moved to the dead-letter stream."""

    def lost(self, accepted: Iterable[str]) -> list[str]:
        """The accepted noticeIds that were never applied."""
        return [notice for notice in accepted if not self._applied(notice)]

    def _applied(self, notice: str) -> bool:
        if notice in self.dead_letters:
            return False
        return any(
            entry not in self.pending and _entry_le(entry, self.last_delivered)
            for entry in self.notice_entries.get(notice, [])
        )


def _entry_le(a: str, b: str) -> bool:
    ams, aseq = (int(part) for part in a.split("-"))
    bms, bseq = (int(part) for part in b.split("-"))
    return (ams, aseq) <= (bms, bseq)


def _notice_id(fields: dict[bytes, bytes]) -> str | None:
    body = fields.get(keys.FIELD_NCS.encode())
    if body is None:
        return None
    try:
        notice = json.loads(body).get("noticeId")
    except (ValueError, AttributeError):
        return None
    return notice if isinstance(notice, str) else None


async def _group(redis: aioredis.Redis[bytes]) -> tuple[str, int, int]:
    """(last delivered id, pending, lag) of the consumer group."""
    for group in await redis.xinfo_groups(STREAM):  # type: ignore[no-untyped-call]
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == keys.CONSUMER_GROUP:
            last = group["last-delivered-id"]
            lag = group.get("lag")
            return (
                last.decode() if isinstance(last, bytes) else str(last),
                int(group["pending"]),
                int(lag) if lag is not None else 0,
            )
    return "0-0", 0, 0


async def audit(redis_url: str) -> StreamAudit:
    """Wait (bounded) until the group has nothing pending or unread, then read the stream."""
    redis: aioredis.Redis[bytes] = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            _, pending, lag = await _group(redis)
            if (pending == 0 and lag == 0) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        last, _, _ = await _group(redis)
        entries: dict[str, list[str]] = {}
        for entry_id, fields in await redis.xrange(STREAM):
            notice = _notice_id(fields)
            if notice is not None:
                entries.setdefault(notice, []).append(entry_id.decode())
        pending_rows = await redis.xpending_range(
            STREAM, keys.CONSUMER_GROUP, min="-", max="+", count=1_000_000
        )
        pending_ids = frozenset(
            row["message_id"].decode()
            if isinstance(row["message_id"], bytes)
            else str(row["message_id"])
            for row in pending_rows
        )
        dead = set()
        for _, fields in await redis.xrange(keys.dead_letter(STREAM)):
            notice = _notice_id(fields)
            if notice is not None:
                dead.add(notice)
        return StreamAudit(entries, pending_ids, last, frozenset(dead))
    finally:
        await redis.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
