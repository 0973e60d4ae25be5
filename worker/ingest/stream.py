"""Stream bookkeeping for the events consumer: group, delivery counts, dead letters, gauges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from worker import keys
from worker.metrics import WorkerMetrics

#: The dead-letter stream keeps about this many entries (approximate trimming).
DEAD_LETTER_MAXLEN: Final = 100_000
_MAX_ERROR_CHARS: Final = 500
#: Counting undelivered entries by hand (Redis < 7 has no `lag`) stops here.
_LAG_COUNT_LIMIT: Final = 10_000

#: A dead-lettered entry keeps its fields and gains these.
DL_REASON: Final = b"dl_reason"
DL_ERROR: Final = b"dl_error"
DL_ENTRY_ID: Final = b"dl_entry_id"
DL_CONSUMER: Final = b"dl_consumer"


class DeadLetterReason(StrEnum):
    """Why an entry went to the dead-letter stream."""

    MALFORMED = "malformed"
    """It can never be normalized (the error says which field)."""
    MAX_DELIVERIES = "max_deliveries"
    """It was delivered more than `dead_letter_after` times without being applied."""
    MISSING_PAYLOAD = "missing_payload"
    """It was trimmed or deleted from the stream while pending."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry on its way to the dead-letter stream."""

    entry_id: str
    fields: dict[bytes, bytes]
    reason: DeadLetterReason
    error: str


def decode_id(entry_id: bytes | str) -> str:
    """A stream entry id as text."""
    return entry_id.decode("ascii") if isinstance(entry_id, bytes) else entry_id


class StreamAdmin:
    """The consumer's Redis chores that are not about applying events."""

    def __init__(
        self, redis: aioredis.Redis[bytes], *, stream: str, group: str, consumer: str
    ) -> None:
        self._redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.dead_letter_stream = keys.dead_letter(stream)

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) from id 0 unless it exists."""
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def delivery_counts(
        self, entries: Sequence[tuple[bytes | str, object]]
    ) -> dict[str, int]:
        """How often each of our pending `entries` has been delivered (this time included)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in entries:
                pipe.xpending_range(
                    self.stream, self.group, entry_id, entry_id, 1, consumername=self.consumer
                )
            replies = await pipe.execute()
        counts: dict[str, int] = {}
        for reply in replies:
            for row in reply:
                counts[decode_id(row["message_id"])] = int(row["times_delivered"])
        return counts

    async def dead_letter(self, entries: Sequence[DeadLetter]) -> None:
        """Move `entries` to the dead-letter stream and acknowledge them.

        Each entry's XADD and XACK run in one transaction: it is either still pending here or
        in the dead-letter stream, never lost and never in both.
        """
        async with self._redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                record: dict[bytes, bytes] = dict(entry.fields)
                record[DL_REASON] = entry.reason.value.encode()
                record[DL_ERROR] = entry.error[:_MAX_ERROR_CHARS].encode("utf-8", "replace")
                record[DL_ENTRY_ID] = entry.entry_id.encode()
                record[DL_CONSUMER] = self.consumer.encode("utf-8", "replace")
                pipe.xadd(
                    self.dead_letter_stream,
                    record,
                    maxlen=DEAD_LETTER_MAXLEN,
                    approximate=True,
                )
                pipe.xack(self.stream, self.group, entry.entry_id)
            await pipe.execute()

    async def update_gauges(self, metrics: WorkerMetrics) -> None:
        """Set the pending and lag gauges of our group from XINFO GROUPS."""
        groups = await self._redis.xinfo_groups(self.stream)  # type: ignore[no-untyped-call]
        for info in groups:
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) != self.group:
                continue
            metrics.consumer_pending.set(int(info.get("pending") or 0))
            lag = info.get("lag")
            if lag is None:  # Redis < 7 reports no lag: count what is left to deliver
                lag = await self._count_undelivered(info.get("last-delivered-id") or b"0-0")
            metrics.consumer_lag.set(int(lag))
            return

    async def _count_undelivered(self, last_delivered: bytes | str) -> int:
        after = "(" + decode_id(last_delivered)
        rows = await self._redis.xrange(self.stream, min=after, max="+", count=_LAG_COUNT_LIMIT)
        return len(rows)
