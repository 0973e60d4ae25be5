"""The periodic reconcile: leases renewed by query, lost notifications healed from the user
list, slots rebuilt from sessions and released without one."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

from sandbox.models import Profile
from sandbox.models import Role as SandboxRole
from tests.support.controller import Stack
from tests.support.waiting import eventually
from worker import keys
from worker.controller.heal import HealOutcome, heal_channel
from worker.controller.sweep import sweep
from worker.functions.reconcile_all import reconcile_all
from worker.state.channel_lock import ChannelBusy, channel_lock
from worker.state.sessions import Session, SessionState, SessionStore


async def _lease_expiry(stack: Stack, channel: str) -> int:
    snapshot = await stack.deps.slots.snapshot()
    return next(lease.expires_at_ms for lease in snapshot.leases if lease.channel == channel)


async def test_a_running_recording_is_queried_and_its_lease_renewed(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    before = await _lease_expiry(stack, "room-1")
    report = await sweep(stack.effects)
    assert report.woken == ["room-1"]
    assert (await stack.reconcile("room-1")).startswith("query")
    assert await _lease_expiry(stack, "room-1") > before


async def test_a_dropped_leave_is_healed_from_the_user_list_and_the_recording_stopped(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.leave("room-1", 11)  # the leave notification never arrives
    report = await sweep(stack.effects)
    assert report.healed == {"room-1": HealOutcome.CLEARED}
    await stack.start_worker()

    async def stopped() -> bool:
        return await stack.session("room-1") is None and not stack.running()

    await eventually(stopped, what="the recording of the emptied channel to stop")


async def test_a_dropped_join_is_healed_from_the_user_list_and_recorded(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    stack.world.join("room-1", 12, role=SandboxRole.HOST, profile=Profile.LIVE, platform=7)
    await stack.leave("room-1", 11)  # we only hear of this one
    report = await sweep(stack.effects)
    assert report.healed == {"room-1": HealOutcome.ADDED}
    state = await stack.arq.hget(keys.channel("room-1"), "desired")
    assert state == b"1"


async def test_recorders_in_the_user_list_are_not_counted(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    report = await sweep(stack.effects)
    assert report.checked == ["room-1"]
    assert report.healed == {}


async def test_lost_slot_leases_are_rebuilt_from_the_sessions(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.arq.delete(keys.SLOTS)
    report = await sweep(stack.effects)
    assert report.rebuilt == ["room-1"]
    assert await stack.deps.slots.holders() == ["room-1"]


async def test_a_lease_without_a_session_is_released(stack: Stack) -> None:
    await stack.deps.slots.acquire("ghost")
    summary = await reconcile_all(stack.ctx)
    assert "released=1" in summary
    assert await stack.deps.slots.holders() == []


async def test_a_lease_is_released_under_the_lock_so_no_session_is_left_without_one(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.deps.slots.acquire("room-1")  # taken by a reconcile that has no session yet
    real_get = SessionStore.get
    session = Session("room-1", SessionState.ACQUIRING, 4_200_000_001, 0, "mix", "p", 1)

    async def get_then_a_reconcile_opens_a_session(
        self: SessionStore, channel: str
    ) -> Session | None:
        found = await real_get(self, channel)
        with contextlib.suppress(ChannelBusy):
            async with channel_lock(stack.arq, channel, ttl_ms=3_000):
                if await real_get(self, channel) is None:
                    await self.save(session)
        return found

    monkeypatch.setattr(SessionStore, "get", get_then_a_reconcile_opens_a_session)
    await sweep(stack.effects)
    has_session = await real_get(stack.deps.sessions, "room-1") is not None
    assert has_session == (await stack.deps.slots.holders() == ["room-1"])


async def test_a_channel_with_a_recent_event_is_left_for_a_later_pass(stack: Stack) -> None:
    await stack.join("room-1", 11)
    stack.world.leave("room-1", 11)  # the leave may still be on its way
    stack.deps.config = dataclasses.replace(stack.deps.config, user_list_quiet_ms=60_000)
    now = await stack.effects.now_ms()
    result = await heal_channel(stack.deps, "room-1", now_ms=now)
    assert result.outcome is HealOutcome.SKIPPED
    assert await stack.arq.hget(keys.channel("room-1"), "occupancy") == b"1"
    later = await heal_channel(stack.deps, "room-1", now_ms=now + 60_000)
    assert later.outcome is HealOutcome.CLEARED
