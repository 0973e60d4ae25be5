"""Lost join and leave notifications are healed by the periodic reconcile within its bounds:
a channel whose joins were all lost records within two reconcile intervals (from Agora's
channel list), and a recording whose last leave was lost stops within grace + two
intervals even while other occupied channels compete for the user-list budget."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from tests.support.e2e.checks import assert_converged, eventually, holds
from tests.support.e2e.inprocess import InProcessStack, StackFactory

GRACE_S = 0.3
RECONCILE_S = 2.0
#: Event pipeline, job pickup and request latency on top of the bound (busy 2 cores).
HEAL_SLACK_S = 2.0
JOIN_EVENTS = {101, 103, 105, 107}
LEAVE_EVENTS = {102, 104, 106, 108}


def rtc_events(events: list[dict[str, Any]], channel: str, types: set[int]) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["productId"] == 1
        and e["eventType"] in types
        and e["payload"]["channelName"] == channel
    ]


async def recording_in(s: InProcessStack, channel: str) -> bool:
    return bool((await s.admin.running()).get(channel))


async def test_a_channel_whose_join_notifications_were_all_lost_records_within_two_intervals(
    stack: StackFactory,
) -> None:
    env = {"AUTOREC_EMPTY_GRACE_S": str(GRACE_S), "AUTOREC_RECONCILE_INTERVAL_S": str(RECONCILE_S)}
    async with stack(env=env) as s:
        # Every notification is lost while the users join (a recorder that starts between
        # the two joins may lose its own too, which changes nothing).
        await s.admin.add_fault(ncs_drop_rate=1.0)
        await s.admin.join("unheard", 11)
        await s.admin.join("unheard", 12)
        joined_at = time.monotonic()
        await s.admin.clear_faults()
        joins = [
            e
            for e in rtc_events(await s.admin.ncs(), "unheard", JOIN_EVENTS)
            if e["eventType"] == 101 or e["payload"]["uid"] in (11, 12)
        ]
        assert len(joins) == 3
        assert all(e["dropped"] for e in joins)

        bound_s = 2 * RECONCILE_S + HEAL_SLACK_S
        await eventually(
            lambda: recording_in(s, "unheard"), what="a recording of 'unheard'", timeout_s=bound_s
        )
        assert time.monotonic() - joined_at <= bound_s
        await assert_converged(s.admin, occupied=["unheard"])

        # The users found by the user list leave as any other: their leaves win.
        await s.admin.leave("unheard", 11)
        await s.admin.leave("unheard", 12)
        await assert_converged(
            s.admin, occupied=[], empty=["unheard"], timeout_s=GRACE_S + RECONCILE_S + HEAL_SLACK_S
        )
        await holds(
            lambda: _not(recording_in(s, "unheard")),
            for_s=RECONCILE_S * 1.5,
            what="'unheard' stays unrecorded once empty",
        )


async def _not(condition: Awaitable[bool]) -> bool:
    return not await condition


async def test_a_lost_leave_stops_the_recording_within_grace_and_two_intervals_under_load(
    stack: StackFactory,
) -> None:
    # One recording slot and 2 requests/s: a pass may send 2 * 2 / 2 = 2 requests, less one
    # for the session's query. Eight occupied channels wait for the slot, all before the
    # recording one by name: a user-list round robin by name would reach it once in nine
    # passes.
    env = {
        "AUTOREC_EMPTY_GRACE_S": str(GRACE_S),
        "AUTOREC_RECONCILE_INTERVAL_S": str(RECONCILE_S),
        "AUTOREC_MAX_RECORDINGS": "1",
        "AUTOREC_MAX_API_QPS": "2",
    }
    waiting = [f"wait-{n}" for n in range(8)]
    async with stack(env=env) as s:
        await s.admin.join("z-leaky", 21)
        await assert_converged(s.admin, occupied=["z-leaky"])
        for channel in waiting:
            await s.admin.join(channel, 22)

        async def deliveries_settled() -> bool:
            return all(e["delivered"] > 0 or e["dropped"] for e in await s.admin.ncs())

        await eventually(deliveries_settled, what="NCS deliveries to settle")
        # The recorder is still in the channel: the user's leave is the only notification.
        rule = await s.admin.add_fault(ncs_drop_rate=1.0, count=1)
        await s.admin.leave("z-leaky", 21)
        left_at = time.monotonic()
        assert await s.admin.fault_fired(rule)
        (leave,) = rtc_events(await s.admin.ncs(), "z-leaky", {108})
        assert leave["dropped"]

        bound_s = GRACE_S + 2 * RECONCILE_S + HEAL_SLACK_S
        await eventually(
            lambda: _not(recording_in(s, "z-leaky")),
            what="the recording of the emptied channel to stop",
            timeout_s=bound_s,
        )
        assert time.monotonic() - left_at <= bound_s
        stats = await s.admin.stats()
        assert stats["limit_violations"] == 0
        assert stats["rejected_429"] == 0
