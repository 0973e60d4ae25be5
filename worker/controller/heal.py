"""Heal lost join/leave notifications from Agora's channel user list (NCS is best effort).

For a channel we believe occupied or recording, `heal_channel` compares Agora's list of
qualifying users with our members and corrects our state through the occupancy script, so
the per-uid ordering rules still hold:

- Agora lists no qualifying user but we count some → a synthetic "channel cleared" at the
  newest event time we hold: every member whose last event is not newer is marked left,
  and any later real event still wins.
- Agora lists a qualifying user we have no record of → a synthetic join with the lowest
  order (0), so any real event for that uid overrides it.

Channels with an event newer than `quiet_ms` are left alone (the news may be in flight), and
recorder uids (ours, the reserved range, uids known as recorders) are never counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from worker import keys
from worker.controller.deps import ControllerDeps
from worker.events import NO_UID, ChannelEvent, ChannelEventKind, EventSource, Role
from worker.state.channel_state import read_channel_state, read_members
from worker.state.reconcile_queue import clear_due, enqueue_reconcile

logger = logging.getLogger(__name__)


class HealOutcome(StrEnum):
    """What one user-list check did."""

    IN_SYNC = "in_sync"
    CLEARED = "cleared"
    ADDED = "added"
    SKIPPED = "skipped"
    """An event for the channel is too recent to judge."""


@dataclass(frozen=True, slots=True)
class HealResult:
    """The outcome and the uids involved."""

    channel: str
    outcome: HealOutcome
    uids: tuple[int, ...] = ()
    qualifying_at_agora: int | None = None
    """Users Agora lists who count (None when the list was not read)."""


async def _recorder_uids(deps: ControllerDeps, channel: str) -> set[int]:
    uids = deps.config.uids(channel)
    known = {uids.primary, uids.backup}
    for raw in await deps.redis.zrange(keys.channel_recorders(channel), 0, -1):
        known.add(int(raw))
    session = await deps.sessions.get(channel)
    if session is not None and session.failover_uid is not None:
        known.add(session.failover_uid)
    return known


async def heal_channel(deps: ControllerDeps, channel: str, *, now_ms: int) -> HealResult:
    """Check one channel against Agora's user list (one rate-limited request)."""
    state = await read_channel_state(deps.redis, channel)
    updated_ms = state.updated_ms if state is not None else None
    if updated_ms is not None and now_ms - updated_ms < deps.config.user_list_quiet_ms:
        return HealResult(channel, HealOutcome.SKIPPED)
    policy = deps.policies.match(channel)
    # Without audience counting only hosts matter: a live channel's list then leaves out
    # up to 10,000 audience uids.
    users = await deps.agora.channel_users(channel, hosts_only=not policy.count_audience)
    recorders = await _recorder_uids(deps, channel)

    def qualifies(uid: int) -> bool:
        return uid not in recorders and uid not in deps.config.recorder_range

    live = users.profile is not None and users.profile.value == 2
    at_agora = {uid for uid in users.hosts if qualifies(uid)}
    audience = {uid for uid in users.audience if qualifies(uid)} if policy.count_audience else set()
    members = await read_members(deps.redis, channel)
    counted = {
        uid
        for uid, member in members.items()
        if member.present and (member.role is not Role.AUDIENCE or policy.count_audience)
    }
    rules = deps.rules(channel)
    if not at_agora and not audience and counted:
        newest_ts = max(members[uid].ts_ms for uid in counted)
        event = ChannelEvent(
            channel=channel,
            uid=NO_UID,
            kind=ChannelEventKind.CHANNEL_CLOSED,
            role=None,
            order=newest_ts,
            ts_ms=newest_ts,
            is_recorder=False,
            event_id=f"heal:{channel}:{now_ms}",
            source=EventSource.APP,
        )
        result = await deps.occupancy.apply(deps.redis, event, rules)
        logger.warning(
            "channel=%r: Agora lists no qualifying user but we counted %s; cleared (gen %d)",
            channel,
            sorted(counted),
            result.gen,
        )
        await _wake_if_changed(deps, channel, result.changed, result.gen)
        return HealResult(channel, HealOutcome.CLEARED, tuple(sorted(counted)), 0)
    unknown = sorted((at_agora | audience) - members.keys())
    changed, gen = False, state.gen if state is not None else 0
    for uid in unknown:
        role = Role.AUDIENCE if uid in audience and uid not in at_agora else Role.HOST
        if not live and role is Role.HOST:
            role = Role.COMMUNICATION
        event = ChannelEvent(
            channel=channel,
            uid=uid,
            kind=ChannelEventKind.JOIN,
            role=role,
            order=0,
            ts_ms=now_ms,
            is_recorder=False,
            event_id=f"heal:{channel}:{uid}:{now_ms}",
            source=EventSource.APP,
        )
        result = await deps.occupancy.apply(deps.redis, event, rules)
        changed, gen = changed or result.changed, result.gen
    if unknown:
        logger.warning(
            "channel=%r: Agora lists users we had no event for: %s; added", channel, unknown
        )
        await _wake_if_changed(deps, channel, changed, gen)
        return HealResult(channel, HealOutcome.ADDED, tuple(unknown), len(at_agora | audience))
    return HealResult(channel, HealOutcome.IN_SYNC, qualifying_at_agora=len(at_agora | audience))


async def _wake_if_changed(deps: ControllerDeps, channel: str, changed: bool, gen: int) -> None:
    if changed:
        await enqueue_reconcile(deps.redis, channel, gen)
        await clear_due(deps.redis, [(channel, gen)])
