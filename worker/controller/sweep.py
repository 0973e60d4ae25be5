"""The periodic reconcile of every channel (`reconcile_all`): Agora is the truth.

One pass, bounded in work and Agora requests:

1. Slots from sessions: a session without a lease gets one back (`Slots.rebuild`, e.g. after
   Redis lost the slot set); a lease without a session is released under the channel's
   lock (skipped while a reconcile holds it): its recording is known to be gone.
2. Every session with a sid is due for a query now: its channel's reconcile asks Agora,
   renews the lease on status 4/5, restarts a dead recording, stops a leak.
3. A reconcile is enqueued for every channel with a session, every channel that wants a
   recording, every waiting channel (one no longer wanting leaves the queue), every
   channel `Slots.admissible` says fits now and every channel with a manual override.
4. User lists heal lost notifications (`user_list_round`), within what is left of the
   request budget of one interval (`max_api_qps * interval / 2`, less one query per
   session): first every channel whose recording may be running (a lost leave costs money),
   then channels Agora's channel list reports occupied that we believe empty (lost joins,
   `lost_joins`), then the other channels we believe occupied, round robin.
5. Channels idle for longer than `IDLE_CHANNEL_HORIZON_MS` are forgotten (`forget_idle`):
   at most `IDLE_SWEEP_LIMIT` candidates a pass, each checked and deleted in one script.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

from worker import keys
from worker.controller.effects import Effects
from worker.controller.heal import HealOutcome
from worker.controller.metrics import Drift
from worker.controller.user_list_round import check_user_lists
from worker.state.channel_lock import ChannelBusy, channel_lock
from worker.state.forget import forget_if_idle
from worker.state.overrides import OverrideStore

logger = logging.getLogger(__name__)

#: A channel unchanged this long (and idle) is forgotten. Far above the 300 s that arq keeps
#: a reconcile job's result: a re-created channel restarts `gen` at 0, and its job ids
#: (`reconcile:<channel>:<gen>`) must not meet a kept result of the old ones.
IDLE_CHANNEL_HORIZON_MS: Final = 3_600_000
#: Candidates (oldest first) examined per pass.
IDLE_SWEEP_LIMIT: Final = 100


@dataclass
class SweepReport:
    """What one pass did."""

    sessions: int = 0
    rebuilt: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    healed: dict[str, HealOutcome] = field(default_factory=dict)
    listed: int = 0
    """Channels Agora's channel list named in this pass."""
    forgotten: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the job result."""
        return (
            f"sessions={self.sessions} rebuilt={len(self.rebuilt)} "
            f"released={len(self.released)} woken={len(self.woken)} "
            f"user_lists={len(self.checked)} healed={len(self.healed)} "
            f"listed={self.listed} forgotten={len(self.forgotten)}"
        )


async def _tracked_channels(fx: Effects) -> tuple[list[str], list[str]]:
    """(channels wanting a recording, channels we believe occupied)."""
    redis = fx.deps.redis
    channels = [c.decode() for c in await redis.zrange(keys.CHANNELS, 0, -1)]
    if not channels:
        return [], []
    async with redis.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.hmget(keys.channel(channel), "desired", "occupancy")
        rows = await pipe.execute()
    desired = [c for c, (d, _) in zip(channels, rows, strict=True) if d == b"1"]
    occupied = [c for c, (_, o) in zip(channels, rows, strict=True) if o not in (None, b"0")]
    return desired, occupied


async def sweep(fx: Effects) -> SweepReport:
    """One periodic pass over every channel (see the module docstring)."""
    deps = fx.deps
    report = SweepReport()
    now = await fx.now_ms()
    sessions = await deps.sessions.list_sessions()
    report.sessions = len(sessions)
    with_session = {s.channel for s in sessions}
    holders = set(await deps.slots.holders())

    missing = sorted(with_session - holders)
    if missing:
        await deps.slots.rebuild(missing)
        report.rebuilt = missing
        deps.metrics.drift(Drift.LOST_LEASE, len(missing))
        logger.warning("reconcile_all: re-created slot leases for sessions %s", missing)
    for channel in sorted(holders - with_session):
        # Under the channel's lock, so no reconcile can open a session on this lease
        # between the check and the release.
        try:
            async with channel_lock(deps.redis, channel, ttl_ms=deps.config.lock_ttl_ms):
                if await deps.sessions.get(channel) is not None:
                    continue
                admitted = await deps.slots.release(channel)
        except ChannelBusy:
            continue
        report.released.append(channel)
        await fx.wake_all(admitted, now)
    if report.released:
        logger.warning("reconcile_all: released slots without a session: %s", report.released)

    for session in sessions:
        if session.sid is not None:
            # Never earlier than a back-off set it: a task answering 404 counts as running
            # until its failover window has passed, whatever the periodic pass does.
            await deps.sessions.set_check_due(session.channel, now)
    desired, occupied = await _tracked_channels(fx)
    waiting = await deps.slots.waiting()
    admissible = await deps.slots.admissible()
    overridden = await OverrideStore(deps.redis).channels()
    to_wake = sorted(
        set(with_session) | set(desired) | set(waiting) | set(admissible) | set(overridden)
    )
    for channel in to_wake:
        await fx.wake(channel, now, now_ms=now)
    report.woken = to_wake

    heal = await check_user_lists(
        deps, fx.spare_api_capacity, sessions=sessions, occupied=occupied, now_ms=now
    )
    report.checked, report.healed, report.listed = heal.checked, heal.healed, heal.listed
    deps.metrics.drift(Drift.HEALED_MEMBERSHIP, len(report.healed))
    report.forgotten = await forget_idle(fx, now)
    logger.info("reconcile_all: %s", report.summary())
    return report


async def forget_idle(fx: Effects, now_ms: int) -> list[str]:
    """Delete the state of channels idle for longer than the horizon (`forget_if_idle`).

    Candidates are the oldest entries of `autorec:channels` older than the horizon, from an
    offset that skips the ones kept in earlier passes (long meetings without events), so a
    pass is bounded and every old channel is examined within a few passes.
    """
    redis = fx.deps.redis
    cutoff = now_ms - IDLE_CHANNEL_HORIZON_MS
    offset_raw = await redis.get(keys.IDLE_CURSOR)
    offset = int(offset_raw) if offset_raw is not None else 0
    raw = await redis.zrangebyscore(
        keys.CHANNELS, "-inf", cutoff, start=offset, num=IDLE_SWEEP_LIMIT
    )
    candidates = [c.decode() for c in raw]
    forgotten: list[str] = []
    for channel in candidates:
        if await forget_if_idle(redis, channel, IDLE_CHANNEL_HORIZON_MS):
            forgotten.append(channel)
    kept = len(candidates) - len(forgotten)
    next_offset = offset + kept if len(candidates) == IDLE_SWEEP_LIMIT else 0
    await redis.set(keys.IDLE_CURSOR, next_offset)
    if forgotten:
        logger.info("reconcile_all: forgot %d idle channels", len(forgotten))
    return forgotten
