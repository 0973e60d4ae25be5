"""Agora misbehaving: 5xx bursts, lost answers, timeouts, 404 windows, 406 and 429 (I1, I3, I5).

Each scenario runs a channel through a whole life (fill → record → empty → stopped) with the
fault on the step it disturbs, and ends with no leaked and no duplicated recording.
"""

from __future__ import annotations

from tests.support.e2e.checks import assert_converged, eventually, holds
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


async def test_a_404_window_shorter_than_the_back_off_keeps_the_recording(
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
