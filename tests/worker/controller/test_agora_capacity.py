"""The recording limit: Agora's capacity answers (406) and our own FIFO slots."""

from __future__ import annotations

import pytest
from arq.jobs import Job, JobResult

from sandbox.config import SandboxConfig
from tests.support.controller import TIME_SCALE, Stack
from tests.support.waiting import eventually
from worker.functions.reconcile_channel import ReconcileFailed, reconcile_channel
from worker.state.reconcile_queue import RECONCILE_FUNCTION
from worker.state.sessions import SessionState


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(time_scale=TIME_SCALE, seed=7, max_concurrent=1)


async def test_agora_at_capacity_puts_the_channel_first_in_line_until_a_recording_stops(
    stack: Stack,
) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.join("room-2", 12)
    assert "acquire" in await stack.reconcile("room-2")
    assert await stack.session("room-2") is None
    assert await stack.deps.slots.waiting() == ["room-2"]
    assert stack.world.stats_view()["rejected_406"] >= 1
    await stack.start_worker()
    await stack.leave("room-1", 11)

    async def second_records() -> bool:
        return [t.cname for t in stack.running()] == ["room-2"]

    await eventually(second_records, what="room-2 to record once room-1 stopped")
    assert stack.world.stats_view()["peak_active"] == 1


async def test_a_reconcile_whose_acquire_agora_refused_ends_as_a_failed_job(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.join("room-2", 12)
    with pytest.raises(ReconcileFailed) as failed:
        await reconcile_channel(stack.ctx, "room-2")
    (failure,) = failed.value.failures
    assert (failure.action, failure.status, failure.code) == ("acquire", 400, 406)
    assert "acquire: " in str(failed.value)
    assert "code 406" in str(failed.value)


async def test_a_queue_dashboard_reads_the_failed_reconcile_from_arq(stack: Stack) -> None:
    await stack.join("room-1", 11)
    await stack.until_state("room-1", SessionState.RUNNING)
    await stack.join("room-2", 12)
    job = await stack.arq.enqueue_job(RECONCILE_FUNCTION, "room-2", _job_id="refused-acquire")
    assert job is not None
    await stack.start_worker()
    info = await eventually_result(job)
    assert info.success is False
    # Stored as a builtin exception: a dashboard without this package can read it.
    assert type(info.result) is RuntimeError
    assert "room-2" in str(info.result)
    assert "acquire: " in str(info.result)
    assert "code 406" in str(info.result)


async def eventually_result(job: Job) -> JobResult:
    """The job's result once arq has stored it."""
    found: list[JobResult] = []

    async def stored() -> bool:
        info = await job.result_info()
        if info is not None:
            found.append(info)
        return info is not None

    await eventually(stored, what="the job's result")
    return found[-1]
