"""Unreliable NCS delivery: duplicated, reordered and dropped notifications (I3, I4).

The sandbox's fault rules disturb its NCS sender (docs/sandbox.md, Faults); each test first
checks that the disturbance really happened, then that autorec ends where a clean delivery
would have left it.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.support.e2e.checks import assert_converged, eventually, holds
from tests.support.e2e.inprocess import InProcessStack, StackFactory
from worker.state.channel_state import read_channel_state

GRACE_S = 0.3
RECONCILE_S = 1.0
#: Event pipeline, job pickup and request latency on top of grace + interval (busy 2 cores).
HEAL_SLACK_S = 2.0
USER_LEAVE_EVENTS = {104, 106, 108}


async def deliveries_settled(s: InProcessStack) -> bool:
    """Every NCS event emitted so far was delivered or dropped (none held or resending)."""
    return all(e["delivered"] > 0 or e["dropped"] for e in await s.admin.ncs())


async def stream_notice_ids(s: InProcessStack) -> list[str]:
    """noticeIds in the order the webhook service appended them to the events stream."""
    entries = await s.redis.xrange(s.settings.autorec_events_stream)
    return [orjson.loads(fields[b"ncs"])["noticeId"] for _, fields in entries if b"ncs" in fields]


async def occupancy_matches_the_sandbox(s: InProcessStack, channels: list[str]) -> bool:
    """Our channel state counts exactly the sandbox's non-recorder members of each channel."""
    for channel in channels:
        members = [m for m in await s.admin.members(channel) if not m["recorder"]]
        state = await read_channel_state(s.redis, channel)
        if (state.occupancy if state else 0) != len(members):
            return False
    return True


async def leaves_that_overtook_their_join(
    s: InProcessStack, channel: str, uids: list[int]
) -> list[int]:
    """The uids whose leave reached the events stream before their join."""
    arrived = await stream_notice_ids(s)
    overtaken = []
    for uid in uids:
        notices = {
            e["eventType"]: e["noticeId"]
            for e in rtc_events(await s.admin.ncs(), {107, 108})
            if e["payload"]["channelName"] == channel and e["payload"]["uid"] == uid
        }
        if arrived.index(notices[108]) < arrived.index(notices[107]):
            overtaken.append(uid)
    return overtaken


def rtc_events(events: list[dict[str, Any]], types: set[int]) -> list[dict[str, Any]]:
    return [e for e in events if e["productId"] == 1 and e["eventType"] in types]


async def test_duplicated_deliveries_start_and_stop_each_recording_once(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.add_fault(ncs_duplicate_rate=1.0)
        for channel in ("dup-a", "dup-b"):
            await s.admin.join(channel, 11)
            await s.admin.join(channel, 12)
        await s.admin.leave("dup-b", 11)
        await s.admin.leave("dup-b", 12)

        await assert_converged(s.admin, occupied=["dup-a"], empty=["dup-b"])
        assert all(e["duplicated"] and e["attempts"] == 2 for e in await s.admin.ncs())
        assert sorted(t.cname for t in await s.admin.recordings()) == ["dup-a", "dup-b"]
        assert await occupancy_matches_the_sandbox(s, ["dup-a", "dup-b"])


async def test_reordered_deliveries_leave_the_same_occupancy_and_recordings(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.join("ord-a", 1)
        await s.admin.join("ord-b", 1)
        await assert_converged(s.admin, occupied=["ord-a", "ord-b"])
        await eventually(lambda: deliveries_settled(s), what="NCS deliveries to settle")
        await s.admin.add_fault(ncs_reorder=True)
        # Each join/leave pair of one uid is emitted back to back, so the reorder rule
        # delivers the leave before its join; the stale join must not bring the uid back.
        for uid in (2, 3, 4):
            await s.admin.join("ord-a", uid)
            await s.admin.leave("ord-a", uid)
        await s.admin.join("ord-b", 5)
        await s.admin.leave("ord-b", 1)
        await s.admin.leave("ord-b", 5)
        await s.admin.join("ord-c", 6)
        await s.admin.join("ord-c", 7)
        await s.admin.leave("ord-c", 6)

        await eventually(lambda: deliveries_settled(s), what="NCS deliveries to settle")
        assert await leaves_that_overtook_their_join(s, "ord-a", [2, 3, 4])  # really reordered
        await assert_converged(s.admin, occupied=["ord-a", "ord-c"], empty=["ord-b"])
        await eventually(
            lambda: occupancy_matches_the_sandbox(s, ["ord-a", "ord-b", "ord-c"]),
            what="occupancy equal to the sandbox's members",
        )


async def test_a_dropped_leave_is_healed_by_the_periodic_reconcile_within_grace_and_interval(
    stack: StackFactory,
) -> None:
    env = {"AUTOREC_EMPTY_GRACE_S": str(GRACE_S), "AUTOREC_RECONCILE_INTERVAL_S": "1"}
    async with stack(env=env) as s:
        await s.admin.join("drop-a", 21)
        await assert_converged(s.admin, occupied=["drop-a"])
        await eventually(lambda: deliveries_settled(s), what="NCS deliveries to settle")
        await s.admin.add_fault(ncs_drop_rate=1.0, count=1)
        await s.admin.leave("drop-a", 21)
        left_at = time.monotonic()

        (leave,) = rtc_events(await s.admin.ncs(), USER_LEAVE_EVENTS)
        assert leave["dropped"]
        assert leave["payload"]["uid"] == 21
        await assert_converged(
            s.admin, occupied=[], empty=["drop-a"], timeout_s=GRACE_S + RECONCILE_S + HEAL_SLACK_S
        )
        assert time.monotonic() - left_at <= GRACE_S + RECONCILE_S + HEAL_SLACK_S

        async def none_running() -> bool:
            return not (await s.admin.running()).get("drop-a")

        await holds(none_running, for_s=RECONCILE_S * 1.5, what="drop-a stays unrecorded")


async def test_lossy_duplicating_reordering_delivery_leaves_no_recording_once_all_empty(
    stack: StackFactory,
) -> None:
    env = {"AUTOREC_EMPTY_GRACE_S": str(GRACE_S), "AUTOREC_RECONCILE_INTERVAL_S": "1"}
    channels = [f"lossy-{n}" for n in range(4)]
    async with stack(env=env) as s:
        await s.admin.add_fault(ncs_drop_rate=0.3, ncs_duplicate_rate=0.3, ncs_reorder=True)
        for channel in channels:
            await s.admin.join(channel, 31)
            await s.admin.join(channel, 32)

        async def some_recording() -> bool:
            return bool(await s.admin.running())

        await eventually(some_recording, what="a recording despite the losses")
        for channel in channels:
            await s.admin.leave(channel, 31)
            await s.admin.leave(channel, 32)

        await eventually(lambda: deliveries_settled(s), what="NCS deliveries to settle")
        events = await s.admin.ncs()
        assert any(e["dropped"] for e in events)
        assert any(e["duplicated"] for e in events)
        await assert_converged(s.admin, occupied=[], empty=channels, timeout_s=10)

        async def none_running() -> bool:
            return not await s.admin.running()

        await holds(none_running, for_s=RECONCILE_S * 1.5, what="no recording restarts")
