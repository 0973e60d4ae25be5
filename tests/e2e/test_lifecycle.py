"""A channel's recording follows its occupancy: start on the first host, stop after the grace
period when the last host leaves, no stop on a rejoin, nothing for an audience (I2, I3, I5)."""

from __future__ import annotations

import time

from tests.support.e2e.checks import assert_converged, eventually, holds, overlapping_recordings
from tests.support.e2e.inprocess import StackFactory
from tests.support.e2e.sandbox_admin import Call, SandboxAdmin
from worker.state.channel_state import read_channel_state

GRACE_S = 0.3
RECONCILE_S = 1.0
#: The whole path from the join to Agora's start, in a test run on a busy 2-core machine.
START_BUDGET_S = 2.0
#: Event pipeline and request latency on top of the grace period, same machine.
STOP_SLACK_S = 1.5


async def stop_calls(admin: SandboxAdmin, sid: str) -> list[Call]:
    return [c for c in await admin.calls() if c.endpoint == "stop" and f"/sid/{sid}/" in c.path]


async def test_a_host_joining_starts_one_recording_within_the_latency_budget(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        joined_at = time.monotonic()
        await s.admin.join("room-1", 101)

        await assert_converged(s.admin, occupied=["room-1"], timeout_s=START_BUDGET_S)
        starts = [c for c in await s.admin.calls() if c.endpoint == "start" and c.status == 200]
        assert len(starts) == 1
        assert starts[0].t - joined_at < START_BUDGET_S


async def test_a_second_host_joining_does_not_start_a_second_recording(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.join("room-1", 101)
        await assert_converged(s.admin, occupied=["room-1"])
        await s.admin.join("room-1", 102)

        async def one_task() -> bool:
            return len(await s.admin.recordings()) == 1

        await holds(one_task, for_s=RECONCILE_S * 2, what="one recording for room-1")


async def test_the_last_host_leaving_stops_the_recording_after_the_grace_period(
    stack: StackFactory,
) -> None:
    async with stack(
        env={"AUTOREC_EMPTY_GRACE_S": str(GRACE_S), "AUTOREC_RECONCILE_INTERVAL_S": "1"}
    ) as s:
        await s.admin.join("room-1", 101)
        await s.admin.join("room-1", 102)
        await assert_converged(s.admin, occupied=["room-1"])
        (task,) = await s.admin.recordings()
        await s.admin.leave("room-1", 101)
        left_at = time.monotonic()
        await s.admin.leave("room-1", 102)

        await assert_converged(s.admin, occupied=[], empty=["room-1"])
        stops = [c for c in await stop_calls(s.admin, task.sid) if c.status in (200, 206)]
        assert len(stops) == 1
        assert GRACE_S <= stops[0].t - left_at <= GRACE_S + RECONCILE_S + STOP_SLACK_S


async def test_a_host_leaving_while_another_stays_keeps_the_recording(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.join("room-1", 101)
        await s.admin.join("room-1", 102)
        await assert_converged(s.admin, occupied=["room-1"])
        await s.admin.leave("room-1", 101)

        async def still_one_running() -> bool:
            running = await s.admin.running()
            return len(running.get("room-1", [])) == 1 and len(await s.admin.recordings()) == 1

        await holds(still_one_running, for_s=GRACE_S + RECONCILE_S * 1.5, what="one recording")


async def test_a_rejoin_within_the_grace_period_cancels_the_stop(stack: StackFactory) -> None:
    grace_s = 1.0
    async with stack(env={"AUTOREC_EMPTY_GRACE_S": str(grace_s)}) as s:
        await s.admin.join("room-1", 101)
        await assert_converged(s.admin, occupied=["room-1"])
        await s.admin.leave("room-1", 101)

        async def emptied() -> bool:
            state = await read_channel_state(s.redis, "room-1")
            return state is not None and state.occupancy == 0

        await eventually(emptied, what="the leave to reach the channel state")
        await s.admin.join("room-1", 101)

        async def untouched() -> bool:
            tasks = await s.admin.recordings()
            return len(tasks) == 1 and tasks[0].running

        await holds(untouched, for_s=grace_s + RECONCILE_S * 1.5, what="the first recording runs")
        assert [c for c in await s.admin.calls() if c.endpoint == "stop"] == []


async def test_an_audience_only_live_channel_is_not_recorded(stack: StackFactory) -> None:
    async with stack() as s:
        await s.admin.join("live-1", 201, role="audience", profile="live")
        await s.admin.join("live-1", 202, role="audience", profile="live")

        async def seen() -> bool:
            state = await read_channel_state(s.redis, "live-1")
            return state is not None and state.audience == 2

        await eventually(seen, what="both viewers in the channel state")

        async def nothing_started() -> bool:
            return not [c for c in await s.admin.calls() if c.endpoint in ("acquire", "start")]

        await holds(nothing_started, for_s=RECONCILE_S * 2.5, what="no acquire or start")


async def test_a_broadcaster_in_a_live_channel_is_recorded(stack: StackFactory) -> None:
    async with stack() as s:
        await s.admin.join("live-1", 201, role="audience", profile="live")
        await s.admin.join("live-1", 301, role="host", profile="live")

        await assert_converged(s.admin, occupied=["live-1"])
        assert overlapping_recordings(await s.admin.recordings()) == []
