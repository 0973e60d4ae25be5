"""The events-stream consumer: read a batch → normalize → apply with the ack → wake reconciles.

One consumer group shares the stream between worker processes. Each consumer has a stable
name; after a start it first re-reads its own pending entries (id `0`), then new ones (`>`).
Entries idle longer than `claim_idle_ms` (a consumer died) are taken over with XAUTOCLAIM;
an entry delivered more than `dead_letter_after` times, or one that can never be applied,
moves to the dead-letter stream and is acknowledged in the same transaction.

A channel event's effect and its XACK are one Lua step (worker/occupancy.lua), so an entry
is acknowledged exactly when its effect is stored; a crash at any point loses nothing, and
re-applying an entry changes nothing. A recording event is acknowledged after the injected
callback returns. Unknown event types are counted and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from worker import keys
from worker.consumer_support import StreamAdmin, decode_id
from worker.events import (
    ChannelEvent,
    IgnoredEvent,
    NormalizedEvent,
    RecordingEvent,
    RecordingEventType,
    UnknownEvent,
)
from worker.metrics import WorkerMetrics, event_type_label, product_label
from worker.normalize import NormalizeError, UidRange, normalize_entry
from worker.occupancy import ApplyResult, OccupancyRules, OccupancyScript, Outcome, ScriptCall
from worker.occupancy import StreamAck as Ack
from worker.reconcile_queue import clear_due, due_wakeups

logger = logging.getLogger(__name__)

RulesFor = Callable[[str], OccupancyRules]
OnChanged = Callable[[str, int], Awaitable[None]]
"""Called with (channel, gen) after the channel's desired state flipped."""
OnRecordingEvent = Callable[[RecordingEvent], Awaitable[None]]

#: Raw entries as redis-py returns them: (id, {field: value}).
Entry = tuple[bytes | str, dict[bytes, bytes]]

_MAX_CLAIM_PAGES: Final = 10
_MAX_BACKOFF_S: Final = 5.0


async def log_recording_event(event: RecordingEvent) -> None:
    """The default recording-event handler: log it (the controller replaces this)."""
    logger.info(
        "recording event %s (%s) channel=%r sid=%s seq=%d",
        event.event_type.value,
        event.msg_name,
        event.channel,
        event.sid,
        event.sequence,
    )


@dataclass
class StepResult:
    """What one consumer step did (for tests and the bench)."""

    read: int = 0
    """Entries handled, including claimed and re-read ones."""
    claimed: int = 0
    applied: int = 0
    ignored: int = 0
    unknown: int = 0
    dead_lettered: int = 0
    failed: int = 0
    """Entries left pending because applying them failed; they are retried later."""
    changes: list[ApplyResult] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)


@dataclass
class _Batch:
    """Channel-event script runs and plain acks waiting for one pipelined round trip."""

    calls: list[ScriptCall] = field(default_factory=list)
    events: list[tuple[str, ChannelEvent]] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)


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
        self._rules = rules
        self._on_changed = on_changed
        self._on_recording_event = on_recording_event
        self._recorder_uids = recorder_uids
        self._dead_letter_after = dead_letter_after
        self._claim_idle_ms = claim_idle_ms
        self._claim_every_s = claim_every_s
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._occupancy = occupancy or OccupancyScript()
        self.metrics = metrics or WorkerMetrics.create()
        self._admin = StreamAdmin(redis, stream=stream, group=group, consumer=consumer_name)
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
                await self._handle(entries, await self._admin.delivery_counts(entries), result)
                self.metrics.batch_seconds.observe(time.perf_counter() - started)
                return result
            self._recover_from = None
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self._claim_every_s
            await self._claim(result)
            await self._sweep_wakeups()
            await self._admin.update_gauges(self.metrics)
            started = time.perf_counter()
        entries = await self._read_new()
        if entries:
            started = time.perf_counter()
            await self._handle(entries, None, result)
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
                await self._handle(live, await self._admin.delivery_counts(live), result)
            if decode_id(cursor) == "0-0":
                return

    # --- applying ----------------------------------------------------------------------------

    async def _handle(
        self, entries: Sequence[Entry], deliveries: dict[str, int] | None, result: StepResult
    ) -> None:
        batch = _Batch()
        dead: list[tuple[str, dict[bytes, bytes], str, str]] = []
        for raw_id, fields in entries:
            entry_id = decode_id(raw_id)
            result.read += 1
            delivered = deliveries.get(entry_id, 1) if deliveries else 1
            if not fields:
                dead.append((entry_id, {}, "missing_payload", "entry has no fields (trimmed?)"))
                continue
            if delivered > self._dead_letter_after:
                dead.append((entry_id, fields, "max_deliveries", f"delivered {delivered} times"))
                continue
            try:
                event = normalize_entry(entry_id, fields, recorder_uids=self._recorder_uids)
            except NormalizeError as exc:
                dead.append((entry_id, fields, "malformed", str(exc)))
                continue
            await self._route(entry_id, event, batch, result)
        await self._flush(batch, result)
        if dead:
            await self._admin.dead_letter(dead)
            for _, _, reason, error in dead:
                self.metrics.events_dead_lettered.labels(reason=reason).inc()
                logger.warning("events consumer: dead-lettered an entry (%s): %s", reason, error)
            result.dead_lettered += len(dead)
            result.acked.extend(entry_id for entry_id, *_ in dead)

    async def _route(
        self, entry_id: str, event: NormalizedEvent, batch: _Batch, result: StepResult
    ) -> None:
        if isinstance(event, ChannelEvent):
            try:
                rules = self._rules(event.channel)
            except Exception:
                logger.exception("events consumer: no rules for channel %r", event.channel)
                self.metrics.handler_errors.inc()
                result.failed += 1
                return
            ack = Ack(self.stream, self.group, entry_id)
            batch.calls.append(self._occupancy.event_call(event, rules, ack=ack))
            batch.events.append((entry_id, event))
        elif isinstance(event, RecordingEvent):
            await self._flush(batch, result)  # keep stream order around the callback
            await self._recording(entry_id, event, result)
        elif isinstance(event, UnknownEvent):
            self.metrics.events_unknown.labels(
                product=product_label(event.product),
                event_type=event_type_label(event.product, event.event_type),
            ).inc()
            logger.debug("events consumer: unknown %s event type", event.product)
            result.unknown += 1
            batch.acks.append(entry_id)
        else:
            assert isinstance(event, IgnoredEvent)
            self.metrics.events_ignored.labels(reason=event.reason.value).inc()
            result.ignored += 1
            batch.acks.append(entry_id)

    async def _flush(self, batch: _Batch, result: StepResult) -> None:
        if not batch.calls and not batch.acks:
            return
        acks = [Ack(self.stream, self.group, entry_id) for entry_id in batch.acks]
        outcomes = await self._occupancy.run(self._redis, batch.calls, acks=acks)
        result.acked.extend(batch.acks)
        changes: list[ApplyResult] = []
        for (entry_id, event), outcome in zip(batch.events, outcomes, strict=True):
            if isinstance(outcome, RedisError):
                logger.error("events consumer: applying entry %s failed: %s", entry_id, outcome)
                self.metrics.handler_errors.inc()
                result.failed += 1
                continue
            self._count(event.kind.value, outcome, result)
            result.acked.append(entry_id)
            if outcome.changed:
                changes.append(outcome)
        batch.calls.clear()
        batch.events.clear()
        batch.acks.clear()
        await self._wake(changes, result)

    def _count(self, kind: str, outcome: ApplyResult, result: StepResult) -> None:
        if outcome.outcome is Outcome.APPLIED:
            self.metrics.events_applied.labels(kind=kind).inc()
            result.applied += 1
        else:
            self.metrics.events_ignored.labels(reason=outcome.outcome.value).inc()
            result.ignored += 1

    async def _recording(self, entry_id: str, event: RecordingEvent, result: StepResult) -> None:
        try:
            await self._on_recording_event(event)
            failover_uid = (
                event.details.new_uid
                if event.event_type is RecordingEventType.SESSION_FAILOVER
                else None
            )
            ack = Ack(self.stream, self.group, entry_id)
            if failover_uid is None:
                await self._redis.xack(self.stream, self.group, entry_id)  # type: ignore[no-untyped-call]
                change = None
            else:
                # The recorder rejoined under a random uid: never count it (design §5).
                call = self._occupancy.recorder_call(
                    event.channel, failover_uid, self._rules(event.channel), ack=ack
                )
                (outcome,) = await self._occupancy.run(self._redis, [call])
                if isinstance(outcome, RedisError):
                    raise outcome
                change = outcome if outcome.changed else None
        except Exception:
            logger.exception("events consumer: recording event %s failed", entry_id)
            self.metrics.handler_errors.inc()
            result.failed += 1
            return
        self.metrics.events_applied.labels(kind="recording").inc()
        result.applied += 1
        result.acked.append(entry_id)
        if change is not None:
            await self._wake([change], result)

    # --- reconcile wake-ups ----------------------------------------------------------------

    async def _wake(self, changes: Sequence[ApplyResult], result: StepResult) -> None:
        """Call `on_changed` for each flip, then clear the wake-up marks that were sent."""
        if not changes:
            return
        result.changes.extend(changes)
        for change in changes:
            self.metrics.desired_changes.labels(desired=str(change.desired).lower()).inc()
            logger.info(
                "channel %r: recording %s (occupancy %d, gen %d)",
                change.channel,
                "desired" if change.desired else "not desired",
                change.occupancy,
                change.gen,
            )
        await self._notify([(change.channel, change.gen) for change in changes])

    async def _sweep_wakeups(self) -> None:
        """Send wake-ups left behind by a crash between a flip and its enqueue."""
        if self._on_changed is not None:
            await self._notify(await due_wakeups(self._redis))

    async def _notify(self, wakeups: Sequence[tuple[str, int]]) -> None:
        if self._on_changed is None or not wakeups:
            return
        on_changed = self._on_changed
        outcomes = await asyncio.gather(
            *(on_changed(channel, gen) for channel, gen in wakeups), return_exceptions=True
        )
        sent = []
        for wakeup, outcome in zip(wakeups, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.error("channel %r: reconcile wake-up failed: %r", wakeup[0], outcome)
                self.metrics.reconcile_enqueue_errors.inc()
            else:
                sent.append(wakeup)
        if sent:
            await clear_due(self._redis, sent)
