"""Recording slots: the global recording limit as a Redis lease semaphore with a FIFO queue.

One lease per channel (never per worker) in the sorted set `keys.SLOTS`, scored by its expiry
in ms of Redis server time; channels that found no free slot wait in `keys.WAITING`, ordered
by arrival (`keys.WAITING_SEQ`). Every operation is one Lua script (`slots.lua`) that first
sweeps expired leases, so all workers see one consistent, clock-skew-free state.

How the controller uses it (design §2 principle 5, invariants I1/I2):

- Before `acquire` at Agora: `await slots.acquire(channel)`. `ADMITTED`/`ALREADY_HELD` →
  go ahead; `WAITING` → do nothing more now, the channel keeps its place in the queue.
- A recording's lease is renewed **only** by the reconciler, and only after Agora confirmed
  the recording runs (`renew`); `False` means the lease was lost (Redis lost data or it
  expired) while the recording still runs: call `rebuild([channel])`. A crashed worker does
  not stop a recording at Agora, so a lease must never simply expire under a live recording:
  keep the lease TTL (default 10 min) far above the reconcile interval.
- When a recording stopped, or its start failed for good: `release(channel)` returns the
  waiting channels that now fit; enqueue a reconcile for each so it can `acquire`.
  `release` does not grant them the slot: each admitted channel takes it itself with
  `acquire`, so a channel that emptied meanwhile never holds a slot it does not use.
- A waiting channel that empties: `leave_queue(channel)`; the controller calls `release`,
  which also leaves the queue, because it need not know whether the channel holds a lease.
  Both return the channels to wake.
- Agora's acquire answer 400/406 `vendor_over_load` (its own limit is reached, e.g. a lower
  quota or recordings we do not know about): `requeue_front(channel)` drops the lease and
  puts the channel at the head of the queue; no one is woken, because Agora just said there
  is no capacity. The reconciler retries it on its next pass (`admissible()` lists it while
  our own count has room), and any `release` wakes it again.
- Each reconcile pass: `admissible()` → enqueue a reconcile for each; compare `waiting()`
  with desired state and `leave_queue` channels no longer wanting a recording.
- After Redis lost data: `rebuild(channels_running_at_agora)` re-creates their leases. They
  may exceed the limit for a while (we never stop a running recording to honour our own
  count); no one is admitted until releases bring the count under the limit again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import redis.asyncio as aioredis

from worker import keys
from worker.state.scripts import LuaScript

#: Default lease lifetime: far above the reconcile interval that renews running recordings.
DEFAULT_LEASE_TTL_MS: Final = 10 * 60 * 1000

_SCRIPT: Final = LuaScript("worker.state", "slots.lua")


class AdmissionStatus(StrEnum):
    """Outcome of `Slots.acquire`."""

    ADMITTED = "admitted"
    """The channel got a new lease."""
    ALREADY_HELD = "held"
    """The channel already held a lease (acquire is idempotent); the lease is unchanged."""
    WAITING = "waiting"
    """No slot for this channel yet; it is (still) in the FIFO queue."""


@dataclass(frozen=True, slots=True)
class Admission:
    """Answer of `Slots.acquire`: the status and, when waiting, the 1-based queue position."""

    status: AdmissionStatus
    position: int | None = None

    @property
    def holds_slot(self) -> bool:
        """Whether the channel may start a recording now."""
        return self.status is not AdmissionStatus.WAITING


@dataclass(frozen=True, slots=True)
class Lease:
    """One held slot: the channel and when its lease expires (ms, Redis server time)."""

    channel: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class SlotsSnapshot:
    """A consistent view of the semaphore, read in one script call."""

    now_ms: int
    limit: int
    leases: tuple[Lease, ...]
    waiting: tuple[str, ...]

    @property
    def in_use(self) -> int:
        """Number of held leases (may exceed `limit` after a rebuild)."""
        return len(self.leases)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"channel must be a non-empty string, got {channel!r}")
    return channel


class Slots:
    """The global recording semaphore shared by every worker (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis[Any],
        *,
        limit: int,
        lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if lease_ttl_ms < 1:
            raise ValueError(f"lease_ttl_ms must be positive, got {lease_ttl_ms}")
        self._redis = redis
        self._limit = limit
        self._lease_ttl_ms = lease_ttl_ms

    @property
    def limit(self) -> int:
        """The configured number of slots."""
        return self._limit

    @property
    def lease_ttl_ms(self) -> int:
        """How long a lease lives without renewal."""
        return self._lease_ttl_ms

    async def _call(self, operation: str, *channels: str) -> Any:
        args: list[str | int] = [operation, self._limit, self._lease_ttl_ms, *channels]
        return await _SCRIPT.run(
            self._redis, keys=[keys.SLOTS, keys.WAITING, keys.WAITING_SEQ], args=args
        )

    async def acquire(self, channel: str) -> Admission:
        """Take a slot for `channel`, or join (or keep its place in) the FIFO queue.

        Idempotent: a holder gets `ALREADY_HELD` (its lease is not extended: only confirmed
        recordings are renewed); a waiter asking again keeps its place. A channel is admitted
        only if every waiter ahead of it also fits in the free capacity, so a newcomer never
        overtakes the queue.
        """
        status, position = await self._call("acquire", _check_channel(channel))
        result = AdmissionStatus(_text(status))
        if result is AdmissionStatus.WAITING:
            return Admission(result, int(position))
        return Admission(result)

    async def renew(self, channel: str) -> bool:
        """Extend an existing lease to now + TTL; `False` means there was none (lease lost).

        Call it only for recordings Agora confirmed running. It never creates a lease.
        """
        return bool(await self._call("renew", _check_channel(channel)))

    async def release(self, channel: str) -> list[str]:
        """Drop the channel's lease and any wait entry; return the waiters that now fit.

        The returned channels (head of the queue, at most the free capacity) are not granted
        anything: wake them so they `acquire` themselves. Idempotent.
        """
        return [_text(c) for c in await self._call("release", _check_channel(channel))]

    async def leave_queue(self, channel: str) -> list[str]:
        """Remove a waiting channel (e.g. it emptied); return the waiters that now fit."""
        return [_text(c) for c in await self._call("leave", _check_channel(channel))]

    async def requeue_front(self, channel: str) -> None:
        """Agora refused for lack of capacity: drop the lease and wait at the queue's head.

        Nobody is woken. The channel is admitted again when a slot is released (it is first
        in line) or by the reconciler's next `admissible()` pass. Several requeued channels
        queue in reverse order of requeueing (the latest goes first).
        """
        await self._call("requeue_front", _check_channel(channel))

    async def rebuild(self, channels_running: Iterable[str]) -> int:
        """Re-create leases for recordings known to run at Agora; return how many were new.

        For recovery after Redis lost data (and for `renew` returning `False` on a running
        recording). Existing leases are extended, the channels leave the queue. The total
        may exceed the limit until enough recordings stop: running recordings are facts.
        """
        channels = [_check_channel(c) for c in channels_running]
        return int(await self._call("rebuild", *channels))

    async def admissible(self) -> list[str]:
        """The waiting channels at the head of the queue that fit the free capacity."""
        return [_text(c) for c in await self._call("admissible")]

    async def in_use(self) -> int:
        """Number of live leases."""
        return int(await self._call("in_use"))

    async def holders(self) -> list[str]:
        """Channels holding a live lease, soonest expiry first."""
        return [lease.channel for lease in (await self.snapshot()).leases]

    async def waiting(self) -> list[str]:
        """Waiting channels in queue order (first = next to be admitted)."""
        return list((await self.snapshot()).waiting)

    async def snapshot(self) -> SlotsSnapshot:
        """Leases, queue and server time, read atomically (for status pages and metrics)."""
        now_ms, flat_leases, waiting = await self._call("state")
        return SlotsSnapshot(
            now_ms=int(now_ms),
            limit=self._limit,
            leases=tuple(_pairs(flat_leases)),
            waiting=tuple(_text(c) for c in waiting),
        )


def _pairs(flat: Sequence[bytes | str]) -> Iterable[Lease]:
    for i in range(0, len(flat), 2):
        yield Lease(channel=_text(flat[i]), expires_at_ms=int(float(flat[i + 1])))
