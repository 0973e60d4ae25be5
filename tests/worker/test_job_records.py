"""What queue dashboards (arq-dashboard, arq's own `Job` and `all_job_results`) read from arq's
job records: a reconcile whose Agora call failed is a failed job, and every periodic
`reconcile_all` pass leaves a result kept an hour. A real arq Worker in burst mode runs the
jobs as `worker.main` registers them, against real Redis with the sandbox as Agora.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from arq.connections import ArqRedis
from arq.constants import default_queue_name, result_key_prefix
from arq.jobs import Job, JobResult, JobStatus
from arq.worker import Worker

from sandbox.config import SandboxConfig
from sandbox.faults import FaultRule
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.controller import TIME_SCALE, Stack, build_stack
from worker.controller.metrics import ControllerMetrics, agora_http_client
from worker.main import RECONCILE_ALL_KEEP_RESULT_S, controller_functions
from worker.state.reconcile_queue import RECONCILE_FUNCTION, reconcile_job_id


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(SandboxConfig(time_scale=TIME_SCALE, seed=7)) as running:
        yield running


@pytest.fixture
async def stack(
    sandbox: RunningSandbox, redis_url: str, arq_pool: ArqRedis
) -> AsyncIterator[Stack]:
    metrics = ControllerMetrics.create()
    async with agora_http_client(metrics) as http:
        built = await build_stack(sandbox, redis_url, arq_pool, http, metrics=metrics)
        try:
            yield built
        finally:
            await built.stop_worker()


async def run_burst(stack: Stack, *, jobs: int, with_cron: bool = False) -> Worker:
    """Run a burst worker with the functions (and the cron) as `worker.main` registers them,
    until it has started `jobs` jobs and they have ended."""
    functions, crons = controller_functions(
        timeout_s=stack.settings.autorec_reconcile_timeout_s,
        interval_s=stack.settings.autorec_reconcile_interval_s,
    )
    worker = Worker(
        functions=functions,
        cron_jobs=crons if with_cron else None,
        redis_pool=stack.arq,
        ctx=cast("dict[Any, Any]", stack.ctx),
        burst=True,
        max_burst_jobs=jobs,
        poll_delay=0,
        handle_signals=False,
    )
    await worker.main()
    return worker


async def refused_reconcile(stack: Stack) -> str:
    """A channel whose acquire Agora refuses (406, over capacity), its reconcile job run by a
    worker; the job's id."""
    stack.world.faults.add(FaultRule(endpoint="acquire", status=400, code=406, count=1))
    await stack.join("room-1", 11)
    job_id = reconcile_job_id("room-1", 1)
    assert await stack.arq.zrange(default_queue_name, 0, -1) == [job_id.encode()]
    worker = await run_burst(stack, jobs=1)
    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    return job_id


async def test_a_reconcile_whose_agora_call_failed_is_recorded_as_a_failed_job(
    stack: Stack,
) -> None:
    job_id = await refused_reconcile(stack)
    job = Job(job_id, stack.arq)
    info = await job.result_info()
    assert await job.status() is JobStatus.complete
    assert info is not None
    assert info.success is False
    assert info.function == RECONCILE_FUNCTION
    assert info.args == ("room-1",)
    # A builtin exception naming the step and Agora's answer: a dashboard without this
    # package unpickles and shows it.
    assert type(info.result) is RuntimeError
    assert "acquire: " in str(info.result)
    assert "code 406" in str(info.result)


async def test_the_failed_reconcile_is_listed_among_all_job_results(stack: Stack) -> None:
    job_id = await refused_reconcile(stack)
    results = {result.job_id: result for result in await stack.arq.all_job_results()}
    assert results[job_id].success is False
    assert await stack.arq.pttl(result_key_prefix + job_id) > 0


async def reconcile_all_results(arq: ArqRedis) -> list[JobResult]:
    return [r for r in await arq.all_job_results() if r.function == "reconcile_all"]


async def test_each_reconcile_all_pass_leaves_a_successful_result_kept_an_hour(
    stack: Stack,
) -> None:
    await run_burst(stack, jobs=1, with_cron=True)
    (result,) = await reconcile_all_results(stack.arq)
    assert result.success is True
    assert result.job_id is not None
    assert result.job_id.startswith("reconcile_all:")
    assert isinstance(result.result, str)
    kept_ms = await stack.arq.pttl(result_key_prefix + result.job_id)
    assert (RECONCILE_ALL_KEEP_RESULT_S - 60) * 1000 < kept_ms <= RECONCILE_ALL_KEEP_RESULT_S * 1000


async def test_successive_reconcile_all_passes_are_listed_side_by_side(stack: Stack) -> None:
    await run_burst(stack, jobs=1, with_cron=True)
    await run_burst(stack, jobs=1, with_cron=True)
    results = await reconcile_all_results(stack.arq)
    assert len({r.job_id for r in results}) == 2
    assert all(r.success for r in results)


async def test_a_reconcile_that_succeeds_is_recorded_with_its_actions(stack: Stack) -> None:
    await stack.join("room-2", 12)
    job_id = reconcile_job_id("room-2", 1)
    worker = await run_burst(stack, jobs=1)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    info = await Job(job_id, stack.arq).result_info()
    assert info is not None
    assert info.success is True
    assert "start" in str(info.result)
