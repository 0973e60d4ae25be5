"""Agora misbehaving: 5xx bursts, lost answers, timeouts, 404 windows, 406 and 429 (I1, I3, I5).

Each scenario runs a channel through a whole life (fill → record → empty → stopped) with the
fault on the step it disturbs, and ends with no leaked and no duplicated recording.
"""

from __future__ import annotations

import pytest

from tests.support.e2e.checks import (
    assert_converged,
    eventually,
    holds,
    overlapping_recordings,
)
from tests.support.e2e.inprocess import InProcessStack, StackFactory
from tests.support.e2e.sandbox_admin import Call
from worker.state.slots import Slots

RECONCILE_S = 1.0
HOST = 41


async def answered(s: InProcessStack, endpoint: str, status: int) -> list[Call]:
    return [c for c in await s.admin.calls() if c.endpoint == endpoint and c.status == status]


async def recordings_of(s: InProcessStack, channel: str) -> int:
    return len([t for t in await s.admin.recordings() if t.cname == channel])


async def empty_and_check_stopped(s: InProcessStack, channel: str) -> None:
    await s.admin.leave(channel, HOST)
    await assert_converged(s.admin, occupied=[], empty=[channel])


async def test_a_burst_of_5xx_on_start_ends_with_one_recording(stack: StackFactory) -> None:
    async with stack() as s:
        await s.admin.add_fault(endpoint="start", status=503, count=3)
        await s.admin.join("c5xx", HOST)

        await assert_converged(s.admin, occupied=["c5xx"])
        assert len(await answered(s, "start", 503)) == 3
        assert await recordings_of(s, "c5xx") == 1
        await empty_and_check_stopped(s, "c5xx")


async def test_a_burst_of_5xx_on_acquire_ends_with_one_recording(stack: StackFactory) -> None:
    async with stack() as s:
        await s.admin.add_fault(endpoint="acquire", status=500, count=3)
        await s.admin.join("a5xx", HOST)

        await assert_converged(s.admin, occupied=["a5xx"])
        assert len(await answered(s, "acquire", 500)) == 3
        assert await recordings_of(s, "a5xx") == 1
        await empty_and_check_stopped(s, "a5xx")


async def test_a_start_whose_answer_is_lost_is_not_started_twice(stack: StackFactory) -> None:
    async with stack() as s:
        # The start takes effect at Agora, but its answer is a 504/62 gateway timeout.
        await s.admin.add_fault(endpoint="start", status=504, code=62, after=True, count=1)
        await s.admin.join("lost", HOST)

        await assert_converged(s.admin, occupied=["lost"])
        assert len(await answered(s, "start", 504)) == 1

        async def one_task() -> bool:
            return await recordings_of(s, "lost") == 1

        await holds(one_task, for_s=RECONCILE_S * 1.5, what="a single recording of 'lost'")
        await empty_and_check_stopped(s, "lost")


async def test_a_start_that_times_out_is_not_started_twice(stack: StackFactory) -> None:
    async with stack(env={"AUTOREC_AGORA_TIMEOUT_S": "1"}) as s:
        # The start takes effect, then its answer comes after the client's timeout.
        await s.admin.add_fault(endpoint="start", latency_ms=1500, count=1)
        await s.admin.join("slow", HOST)

        await assert_converged(s.admin, occupied=["slow"])

        async def one_task() -> bool:
            return await recordings_of(s, "slow") == 1

        await holds(one_task, for_s=RECONCILE_S * 1.5, what="a single recording of 'slow'")
        await empty_and_check_stopped(s, "slow")


async def test_a_burst_of_5xx_on_stop_still_stops_the_recording(stack: StackFactory) -> None:
    async with stack() as s:
        await s.admin.join("stop5xx", HOST)
        await assert_converged(s.admin, occupied=["stop5xx"])
        await s.admin.add_fault(endpoint="stop", status=503, count=3)

        await empty_and_check_stopped(s, "stop5xx")
        assert len(await answered(s, "stop", 503)) == 3
        assert await recordings_of(s, "stop5xx") == 1


async def test_a_stop_that_times_out_still_ends_the_session_and_frees_its_slot(
    stack: StackFactory,
) -> None:
    async with stack(env={"AUTOREC_AGORA_TIMEOUT_S": "1"}) as s:
        await s.admin.join("slowstop", HOST)
        await assert_converged(s.admin, occupied=["slowstop"])
        # The stop takes effect, then its answer comes after the client's timeout.
        await s.admin.add_fault(endpoint="stop", latency_ms=1500, count=1)

        await empty_and_check_stopped(s, "slowstop")
        slots = Slots(s.redis, limit=int(s.env["AUTOREC_MAX_RECORDINGS"]))

        async def slot_freed() -> bool:
            return await slots.in_use() == 0

        await eventually(slot_freed, what="the slot of slowstop to be released")
        assert await recordings_of(s, "slowstop") == 1


async def test_a_404_window_shorter_than_the_failover_window_keeps_the_recording(
    stack: StackFactory,
) -> None:
    window_s = 3.0
    async with stack(env={"AUTOREC_RECONCILE_INTERVAL_S": str(RECONCILE_S)}) as s:
        await s.admin.join("ha", HOST)
        await assert_converged(s.admin, occupied=["ha"])
        (task,) = await s.admin.recordings()
        # An HA failover window: query/update/stop answer 404 "failed to find worker".
        await s.admin.add_fault(not_found_s=window_s)

        async def the_same_recording() -> bool:
            tasks = await s.admin.recordings()
            return [t.sid for t in tasks] == [task.sid] and tasks[0].running

        await holds(the_same_recording, for_s=window_s + RECONCILE_S, what="the first recording")
        assert await answered(s, "query", 404), "the reconciler never queried in the window"
        await empty_and_check_stopped(s, "ha")


async def keeps_one_task_and_its_slot(
    s: InProcessStack, channel: str, waiting: str, window_s: float
) -> str:
    """Open a 404 window of `window_s` on every task call while `waiting` wants the only
    slot: the task in doubt keeps running, keeps its slot, and nothing else starts."""
    (task,) = await s.admin.recordings()
    slots = Slots(s.redis, limit=1)
    await s.admin.add_fault(not_found_s=window_s)
    await s.admin.join(waiting, HOST + 1)

    async def kept() -> bool:
        tasks = await s.admin.recordings()
        return (
            [t.sid for t in tasks] == [task.sid]
            and tasks[0].running
            and await slots.holders() == [channel]
        )

    await holds(kept, for_s=window_s, what=f"the task of {channel} in doubt and its slot")
    assert await answered(s, "query", 404), "the reconciler never queried in the window"
    return task.sid


async def confirmed_after(s: InProcessStack, sid: str, t: float) -> bool:
    calls = await s.admin.calls()
    return any(
        c.endpoint == "query" and c.status == 200 and sid in c.path and c.t > t for c in calls
    )


async def test_a_task_in_doubt_keeps_its_slot_and_only_a_proven_dead_one_is_replaced(
    stack: StackFactory,
) -> None:
    failover_s = 4.0
    env = {
        "AUTOREC_RECONCILE_INTERVAL_S": str(RECONCILE_S),
        "AUTOREC_FAILOVER_WINDOW_S": str(failover_s),
        "AUTOREC_MAX_RECORDINGS": "1",
    }
    async with stack(env=env) as s:
        await s.admin.join("ha", HOST)
        await assert_converged(s.admin, occupied=["ha"])
        sid = await keeps_one_task_and_its_slot(s, "ha", "ha-waiting", window_s=2.5)
        window_end = (await s.admin.calls())[-1].t
        await eventually(
            lambda: confirmed_after(s, sid, window_end), what="the task confirmed again"
        )
        await s.admin.leave("ha-waiting", HOST + 1)
        await eventually(lambda: _nobody_waits(s), what="ha-waiting to leave the queue")

        # The task dies and every notification is lost: only the failover window can
        # prove it gone.
        await s.admin.add_fault(ncs_drop_rate=1.0)
        killed_at = len(await s.admin.calls())
        await s.admin.kill(sid)

        async def replaced() -> bool:
            running = (await s.admin.running()).get("ha", [])
            return len(running) == 1 and running[0].sid != sid

        await eventually(replaced, what="one replacement recording", timeout_s=failover_s + 15)
        after_kill = (await s.admin.calls())[killed_at:]
        first_404 = next(c.t for c in after_kill if c.endpoint == "query" and c.status == 404)
        stops = [c for c in after_kill if c.endpoint == "stop" and sid in c.path]
        assert stops, "the dead task was never sent a stop"
        starts = [c for c in after_kill if c.endpoint == "start" and c.status < 300]
        assert len(starts) == 1
        assert stops[0].t >= first_404 + failover_s * 0.9, "declared dead inside the window"
        assert starts[0].t > stops[0].t
        tasks = [t for t in await s.admin.recordings() if t.cname == "ha"]
        assert len(tasks) == 2
        assert tasks[0].uid != tasks[1].uid
        assert overlapping_recordings(tasks) == []
        await s.admin.clear_faults()
        await empty_and_check_stopped(s, "ha")


async def _nobody_waits(s: InProcessStack) -> bool:
    return await Slots(s.redis, limit=1).waiting() == []


# Long: a real 60 s window. Its short forms run by default: the 3 s window above and the
# time-scaled windows of tests/worker/controller/test_failover_window.py.
@pytest.mark.slow
@pytest.mark.long
async def test_a_60_s_query_404_window_keeps_one_task_and_its_slot_and_starts_nothing_else(
    stack: StackFactory,
) -> None:
    # Agora's failover answers 404 for up to 90 s; the default failover window is 120 s.
    env = {"AUTOREC_RECONCILE_INTERVAL_S": "5", "AUTOREC_MAX_RECORDINGS": "1"}
    async with stack(env=env) as s:
        await s.admin.join("ha60", HOST)
        await assert_converged(s.admin, occupied=["ha60"])
        sid = await keeps_one_task_and_its_slot(s, "ha60", "ha60-waiting", window_s=60.0)
        window_end = (await s.admin.calls())[-1].t
        await eventually(
            lambda: confirmed_after(s, sid, window_end),
            what="the task confirmed after the window",
            timeout_s=40,
        )
        assert [t.sid for t in await s.admin.recordings() if t.cname == "ha60"] == [sid]
        assert await answered(s, "stop", 404) == []
        await s.admin.leave("ha60-waiting", HOST + 1)
        await empty_and_check_stopped(s, "ha60")


async def test_a_vendor_over_load_answer_makes_the_channel_wait_then_record(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.add_fault(endpoint="acquire", status=400, code=406, count=2)
        await s.admin.join("busy", HOST)

        await assert_converged(s.admin, occupied=["busy"])
        assert len(await answered(s, "acquire", 400)) == 2
        assert await recordings_of(s, "busy") == 1
        await empty_and_check_stopped(s, "busy")


async def test_agora_capacity_below_our_limit_keeps_the_extra_channel_waiting_until_a_stop(
    stack: StackFactory,
) -> None:
    async with stack(env={"AUTOREC_MAX_RECORDINGS": "5"}, sandbox={"max_concurrent": 2}) as s:
        for channel in ("cap-1", "cap-2"):
            await s.admin.join(channel, HOST)
        await assert_converged(s.admin, occupied=["cap-1", "cap-2"])
        await s.admin.join("cap-3", HOST)

        async def refused() -> bool:
            return (await s.admin.stats())["rejected_406"] >= 1

        await eventually(refused, what="Agora refusing cap-3 with 406")
        await s.admin.leave("cap-1", HOST)

        await assert_converged(s.admin, occupied=["cap-2", "cap-3"], empty=["cap-1"])
        stats = await s.admin.stats()
        assert stats["peak_active"] <= 2
        assert stats["limit_violations"] == 0


async def test_rate_limit_answers_are_retried_until_the_recording_starts_and_stops(
    stack: StackFactory,
) -> None:
    async with stack() as s:
        await s.admin.add_fault(endpoint="*", status=429, count=4)
        await s.admin.join("limited", HOST)

        await assert_converged(s.admin, occupied=["limited"])
        assert len([c for c in await s.admin.calls() if c.status == 429]) == 4
        assert await recordings_of(s, "limited") == 1
        await s.admin.add_fault(endpoint="stop", status=429, count=2)
        await empty_and_check_stopped(s, "limited")
