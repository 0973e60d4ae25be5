"""Applying a batch of events-stream entries: normalize, apply with the ack, wake reconciles.

Channel events go through the occupancy script in one pipelined round trip, each with its
entry's XACK inside the script. A recording event is handed to the injected handler in
stream order and acknowledged after it returns (the handler must be idempotent: a crash
before the ack delivers it again). Unknown and ignored events are counted and acknowledged;
entries that can never be applied, or were delivered too often, are dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker.events import (
    ChannelEvent,
    IgnoredEvent,
    NormalizedEvent,
    RecordingEvent,
    RecordingEventType,
    UnknownEvent,
)
from worker.ingest.normalize import NormalizeError, UidRange, normalize_entry
from worker.ingest.stream import DeadLetter, DeadLetterReason, StreamAdmin, decode_id
from worker.metrics import WorkerMetrics, event_type_label, product_label
from worker.state.occupancy import ApplyResult, OccupancyRules, OccupancyScript, Outcome, ScriptCall
from worker.state.occupancy import StreamAck as Ack
from worker.state.reconcile_queue import clear_due, due_wakeups

logger = logging.getLogger(__name__)

RulesFor = Callable[[str], OccupancyRules]
OnChanged = Callable[[str, int], Awaitable[None]]
"""Called with (channel, gen) after the channel's desired state flipped."""
OnRecordingEvent = Callable[[RecordingEvent], Awaitable[None]]

#: Raw entries as redis-py returns them: (id, {field: value}).
Entry = tuple[bytes | str, dict[bytes, bytes]]


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


class EntryApplier:
    """Applies entries of one stream for one consumer (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis[bytes],
        *,
        admin: StreamAdmin,
        rules: RulesFor,
        on_changed: OnChanged | None,
        on_recording_event: OnRecordingEvent,
        recorder_uids: UidRange,
        dead_letter_after: int,
        occupancy: OccupancyScript,
        metrics: WorkerMetrics,
    ) -> None:
        self._redis = redis
        self._admin = admin
        self.stream = admin.stream
        self.group = admin.group
        self._rules = rules
        self._on_changed = on_changed
        self._on_recording_event = on_recording_event
        self._recorder_uids = recorder_uids
        self._dead_letter_after = dead_letter_after
        self._occupancy = occupancy
        self.metrics = metrics

    async def apply(
        self, entries: Sequence[Entry], deliveries: dict[str, int] | None, result: StepResult
    ) -> None:
        """Apply `entries` in order, adding to `result`.

        `deliveries` maps entry ids to how often they were delivered (None: first delivery).
        """
        batch = _Batch()
        dead: list[DeadLetter] = []
        for raw_id, fields in entries:
            entry_id = decode_id(raw_id)
            result.read += 1
            delivered = deliveries.get(entry_id, 1) if deliveries else 1
            if not fields:
                error = "entry has no fields (trimmed or deleted while pending)"
                dead.append(DeadLetter(entry_id, {}, DeadLetterReason.MISSING_PAYLOAD, error))
                continue
            if delivered > self._dead_letter_after:
                error = f"delivered {delivered} times"
                dead.append(DeadLetter(entry_id, fields, DeadLetterReason.MAX_DELIVERIES, error))
                continue
            try:
                event = normalize_entry(entry_id, fields, recorder_uids=self._recorder_uids)
            except NormalizeError as exc:
                dead.append(DeadLetter(entry_id, fields, DeadLetterReason.MALFORMED, str(exc)))
                continue
            await self._route(entry_id, event, batch, result)
        await self._flush(batch, result)
        if dead:
            await self._admin.dead_letter(dead)
            for letter in dead:
                self.metrics.events_dead_lettered.labels(reason=letter.reason.value).inc()
                logger.warning(
                    "events consumer: dead-lettered entry %s (%s): %s",
                    letter.entry_id,
                    letter.reason.value,
                    letter.error,
                )
            result.dead_lettered += len(dead)
            result.acked.extend(letter.entry_id for letter in dead)

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

    async def sweep_wakeups(self) -> None:
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
