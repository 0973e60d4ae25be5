"""The events-stream consumer: read a batch → normalize → apply with the ack → wake reconciles.

One consumer group shares the stream between worker processes. Each consumer has a stable
name; after a start it first re-reads its own pending entries (id `0`), then new ones (`>`).
Entries idle longer than `claim_idle_ms` (a consumer died) are taken over with XAUTOCLAIM;
an entry delivered more than `dead_letter_after` times, or one that can never be applied,
moves to the dead-letter stream and is acknowledged in the same transaction.

A channel event's effect and its XACK are one Lua step (worker/state/occupancy.lua), so an entry
is acknowledged exactly when its effect is stored; a crash at any point loses nothing, and
re-applying an entry changes nothing. A recording event is acknowledged after the injected
callback returns. Unknown event types are counted and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from worker import keys
from worker.ingest.apply import (
    Entry,
    EntryApplier,
    OnChanged,
    OnRecordingEvent,
    RulesFor,
    StepResult,
    log_recording_event,
)
from worker.ingest.normalize import UidRange
from worker.ingest.stream import StreamAdmin, decode_id
from worker.metrics import WorkerMetrics
from worker.state.occupancy import OccupancyScript

__all__ = ["OnChanged", "OnRecordingEvent", "RulesFor", "StepResult", "StreamConsumer"]

logger = logging.getLogger(__name__)

_MAX_CLAIM_PAGES: Final = 10
_MAX_BACKOFF_S: Final = 5.0


class StreamConsumer:
    """Consumes the events stream in a consumer group; `run()` until `stop()`."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        *,
        stream: str,
        group: str = keys.CONSUMER_GROUP,
        consumer_name: str,
        rules: RulesFor,
        on_changed: OnChanged | None,
        on_recording_event: OnRecordingEvent = log_recording_event,
        recorder_uids: UidRange,
        dead_letter_after: int = 5,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 5.0,
        batch_size: int = 200,
        block_ms: int | None = 1000,
        occupancy: OccupancyScript | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        if dead_letter_after < 1 or claim_idle_ms < 0 or batch_size < 1:
            raise ValueError("need dead_letter_after >= 1, claim_idle_ms >= 0, batch_size >= 1")
        if block_ms is not None and block_ms < 1:
            raise ValueError("block_ms must be None (no blocking) or >= 1 (0 blocks forever)")
        self._redis = redis
        self.stream = stream
        self.group = group
        self.name = consumer_name
        self._claim_idle_ms = claim_idle_ms
        self._claim_every_s = claim_every_s
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._occupancy = occupancy or OccupancyScript()
        self.metrics = metrics or WorkerMetrics.create()
        self._admin = StreamAdmin(redis, stream=stream, group=group, consumer=consumer_name)
        self._applier = EntryApplier(
            redis,
            admin=self._admin,
            rules=rules,
            on_changed=on_changed,
            on_recording_event=on_recording_event,
            recorder_uids=recorder_uids,
            dead_letter_after=dead_letter_after,
            occupancy=self._occupancy,
            metrics=self.metrics,
        )
        self._ready = False
        self._recover_from: str | None = "0"
        self._next_claim = 0.0
        self._stopped = asyncio.Event()
        self._idle_read: asyncio.Future[list[Entry]] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the consumer group if missing (MKSTREAM, from id 0); load the script."""
        await self._admin.ensure_group()
        await self._occupancy.load(self._redis)
        self._ready = True

    async def run(self) -> None:
        """Step until `stop()` (even one called before this starts); failures back off."""
        backoff_s = 0.1
        while not self._stopped.is_set():
            try:
                await self.step()
                backoff_s = 0.1
                continue
            except RedisError as exc:
                logger.warning("events consumer: Redis error, retrying: %s", exc)
            except Exception:
                logger.exception("events consumer step failed, retrying")
            # Whatever was read is still pending with us: go through it again.
            self._ready = False
            self._recover_from = "0"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=backoff_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

    def stop(self) -> None:
        """Ask `run()` to return after the current step; an idle blocking read ends at once.

        An entry Redis hands over just as that read is abandoned stays pending with this
        consumer: the next start re-reads it, or another consumer claims it.
        """
        self._stopped.set()
        if self._idle_read is not None:
            self._idle_read.cancel()

    # --- one cycle -------------------------------------------------------------------------

    async def step(self) -> StepResult:
        """One cycle: own pending entries (after a start), else claim if due, then new ones."""
        result = StepResult()
        if not self._ready:
            await self.setup()
        started = time.perf_counter()
        if self._recover_from is not None:
            entries = await self._read(self._recover_from, block_ms=None)
            if entries:
                self._recover_from = decode_id(entries[-1][0])
                await self._applier.apply(
                    entries, await self._admin.delivery_counts(entries), result
                )
                self.metrics.batch_seconds.observe(time.perf_counter() - started)
                return result
            self._recover_from = None
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self._claim_every_s
            await self._claim(result)
            await self._applier.sweep_wakeups()
            await self._admin.update_gauges(self.metrics)
            started = time.perf_counter()
        entries = await self._read_new()
        if entries:
            started = time.perf_counter()
            await self._applier.apply(entries, None, result)
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return result

    async def _read_new(self) -> list[Entry]:
        """Read new entries, blocking up to `block_ms`; `stop()` may cut the wait short."""
        if self._stopped.is_set():
            return []
        self._idle_read = asyncio.ensure_future(self._read(">", block_ms=self._block_ms))
        try:
            return await self._idle_read
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._stopped.is_set() and (task is None or not task.cancelling()):
                return []  # cut short by stop(), not a cancellation of this task
            raise
        finally:
            self._idle_read = None

    async def _read(self, from_id: str, *, block_ms: int | None) -> list[Entry]:
        try:
            reply = await self._redis.xreadgroup(
                self.group,
                self.name,
                {self.stream: from_id},
                count=self._batch_size,
                block=block_ms,
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._ready = False  # the stream or group was deleted: recreate on next step
            raise
        if not reply:
            return []
        entries: list[Entry] = reply[0][1]
        return entries

    async def _claim(self, result: StepResult) -> None:
        """Take over entries idle longer than `claim_idle_ms` (from dead consumers)."""
        cursor: bytes | str = "0-0"
        for _ in range(_MAX_CLAIM_PAGES):
            reply = await self._redis.xautoclaim(
                self.stream,
                self.group,
                self.name,
                min_idle_time=self._claim_idle_ms,
                start_id=cursor,
                count=self._batch_size,
            )
            cursor, claimed = reply[0], reply[1]
            live: list[Entry] = [(i, f) for i, f in claimed if i is not None]
            if len(live) < len(claimed):
                # Redis 6.2 claims deleted entries as nil: they now sit in our own pending
                # list, where a re-read returns their ids (and dead-letters them).
                self._recover_from = "0"
            if live:
                result.claimed += len(live)
                await self._applier.apply(live, await self._admin.delivery_counts(live), result)
            if decode_id(cursor) == "0-0":
                return
