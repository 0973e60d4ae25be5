"""A waking worker keeps arq's jobs and records but waits for work instead of polling: a
queued job wakes it at once, a deferred job or a retry runs at its time without any token,
and with no work it looks at the queue only every `idle_check_s`. Real Redis, real arq."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.constants import default_queue_name
from arq.jobs import Job, JobStatus
from arq.worker import Retry, func

from worker import keys
from worker.state.job_wake import TOKENS_KEPT, wake_worker
from worker.state.reconcile_queue import RECONCILE_FUNCTION, enqueue_reconcile, stage_reconcile
from worker.state.waking_worker import WakingWorker

#: Long enough that only a wake-up (never the idle check) can explain a prompt start.
NEVER_S = 30.0
#: What "at once" allows on a loaded machine.
PROMPT_S = 2.0


@dataclass
class Ran:
    """What the jobs saw: (job argument, monotonic time) in order, and a signal per run."""

    runs: list[tuple[str, float]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def until(self, count: int, timeout_s: float = PROMPT_S) -> None:
        async def enough() -> None:
            while len(self.runs) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(enough(), timeout_s)


def _functions(ran: Ran) -> list[Any]:
    async def note(ctx: dict[str, Any], arg: str) -> str:
        ran.runs.append((arg, time.monotonic()))
        ran.changed.set()
        return arg

    async def hold(ctx: dict[str, Any], arg: str) -> str:
        ran.runs.append((arg, time.monotonic()))
        ran.changed.set()
        await ran.release.wait()
        return arg

    async def retry_once(ctx: dict[str, Any], arg: str) -> str:
        ran.runs.append((arg, time.monotonic()))
        ran.changed.set()
        if ctx["job_try"] == 1:
            raise Retry(defer=0.3)
        return arg

    return [
        func(note, name=RECONCILE_FUNCTION),
        func(note, name="note"),
        func(hold, name="hold"),
        func(retry_once, name="retry_once", max_tries=3),
    ]


@contextlib.asynccontextmanager
async def running(
    pool: ArqRedis, ran: Ran, *, idle_check_s: float = NEVER_S, **options: Any
) -> AsyncIterator[WakingWorker]:
    worker = WakingWorker(
        functions=_functions(ran),
        redis_pool=pool,
        handle_signals=False,
        idle_check_s=idle_check_s,
        **options,
    )
    task = asyncio.create_task(worker.main())
    try:
        # Idle: its first look found nothing and it is waiting.
        await _until(lambda: worker.looks >= 1 and not worker.tasks)
        yield worker
    finally:
        ran.release.set()
        worker.request_stop()
        await asyncio.wait_for(task, PROMPT_S)


async def _until(condition: Callable[[], bool], timeout_s: float = PROMPT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def _settled(job: Job) -> None:
    await asyncio.wait_for(job.result(poll_delay=0.02), PROMPT_S)


async def test_a_job_queued_by_enqueue_reconcile_wakes_an_idle_worker_at_once(
    arq_pool: ArqRedis,
) -> None:
    ran = Ran()
    async with running(arq_pool, ran) as worker:
        looks = worker.looks
        queued = time.monotonic()
        assert await enqueue_reconcile(arq_pool, "room-1", 1)
        await ran.until(1)
    assert ran.runs[0][0] == "room-1"
    assert ran.runs[0][1] - queued < PROMPT_S
    # One look for the token, perhaps one more after the job ended: no polling.
    assert worker.looks - looks <= 3


async def test_a_job_staged_in_a_transaction_wakes_an_idle_worker(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran):
        async with arq_pool.pipeline(transaction=True) as pipe:
            stage_reconcile(pipe, "room-2", 4, tag="m1")
            await pipe.execute()
        await ran.until(1)
    assert ran.runs[0][0] == "room-2"


async def test_the_job_keeps_arqs_record_and_result(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran):
        job = await arq_pool.enqueue_job("note", "kept", _job_id="note:kept")
        assert job is not None
        await wake_worker(arq_pool)
        await _settled(job)
        assert await job.status() is JobStatus.complete
        info = await job.result_info()
    assert info is not None
    assert (info.success, info.result, info.function) == (True, "kept", "note")


async def test_a_deferred_job_runs_at_its_time_though_only_its_enqueue_woke_the_worker(
    arq_pool: ArqRedis,
) -> None:
    ran = Ran()
    async with running(arq_pool, ran):
        queued = time.monotonic()
        assert await enqueue_reconcile(arq_pool, "room-3", 1, defer_s=0.5)
        await ran.until(1)
    waited = ran.runs[0][1] - queued
    assert 0.45 <= waited < 0.5 + PROMPT_S


async def test_a_retry_runs_after_its_back_off_without_any_wake_up(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran):
        job = await arq_pool.enqueue_job("retry_once", "again")
        assert job is not None
        await wake_worker(arq_pool)
        await ran.until(2)
        await _settled(job)
    (_, first), (_, second) = ran.runs
    assert 0.25 <= second - first < 0.3 + PROMPT_S


async def test_with_no_wake_up_an_idle_worker_looks_again_after_idle_check_s(
    arq_pool: ArqRedis,
) -> None:
    ran = Ran()
    async with running(arq_pool, ran, idle_check_s=0.5):
        # Queued by a program that pushes no token.
        queued = time.monotonic()
        assert await arq_pool.enqueue_job("note", "silent") is not None
        await ran.until(1, timeout_s=0.5 + PROMPT_S)
    assert ran.runs[0][1] - queued <= 0.5 + PROMPT_S


async def test_an_idle_worker_waits_the_idle_check_when_nothing_else_is_due(
    arq_pool: ArqRedis,
) -> None:
    ran = Ran()
    async with running(arq_pool, ran, idle_check_s=7.0) as worker:
        assert await worker._idle_wait_s() == pytest.approx(7.0, abs=0.05)


async def test_an_idle_worker_waits_until_the_earliest_deferred_job(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran) as worker:
        await arq_pool.enqueue_job("note", "later", _defer_by=4)
        await arq_pool.enqueue_job("note", "much later", _defer_by=9)
        assert await worker._idle_wait_s() == pytest.approx(4.0, abs=0.2)


async def test_an_idle_worker_wakes_for_its_next_health_record(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran, health_check_interval=3) as worker:
        assert await worker._idle_wait_s() <= 3.0


async def test_a_worker_running_max_jobs_passes_a_wake_up_on_to_a_worker_with_room(
    arq_pool: ArqRedis,
) -> None:
    ran = Ran()
    async with running(arq_pool, ran, max_jobs=1) as full:
        held = await arq_pool.enqueue_job("hold", "held")
        assert held is not None
        await wake_worker(arq_pool)
        await ran.until(1)
        assert full.job_counter == 1
        # The second worker blocks on the wake-up list after the full one: Redis hands the
        # next token to the full worker first.
        async with running(arq_pool, ran, max_jobs=1):
            queued = time.monotonic()
            assert await enqueue_reconcile(arq_pool, "room-4", 1)
            await ran.until(2)
            assert ran.runs[1][0] == "room-4"
            assert ran.runs[1][1] - queued < PROMPT_S
            ran.release.set()
            await _settled(held)


async def test_a_full_worker_looks_again_when_its_own_job_ends(arq_pool: ArqRedis) -> None:
    ran = Ran()
    async with running(arq_pool, ran, max_jobs=1):
        held = await arq_pool.enqueue_job("hold", "held")
        assert held is not None
        await wake_worker(arq_pool)
        await ran.until(1)
        assert await enqueue_reconcile(arq_pool, "room-5", 1)
        ran.release.set()
        await ran.until(2)
    assert [arg for arg, _ in ran.runs] == ["held", "room-5"]


async def test_a_burst_worker_ends_when_the_queue_is_empty(arq_pool: ArqRedis) -> None:
    ran = Ran()
    for n in range(3):
        await arq_pool.enqueue_job("note", f"b{n}")
    worker = WakingWorker(
        functions=_functions(ran), redis_pool=arq_pool, handle_signals=False, burst=True
    )
    await asyncio.wait_for(worker.main(), PROMPT_S)
    assert sorted(arg for arg, _ in ran.runs) == ["b0", "b1", "b2"]
    assert await arq_pool.zcard(default_queue_name) == 0


async def test_wake_up_tokens_never_pile_up(arq_pool: ArqRedis) -> None:
    for _ in range(3 * TOKENS_KEPT):
        await wake_worker(arq_pool)
    assert await arq_pool.llen(keys.jobs_wake(default_queue_name)) == TOKENS_KEPT


def test_a_waking_worker_refuses_abortable_jobs() -> None:
    with pytest.raises(ValueError, match="abortable"):
        WakingWorker(functions=_functions(Ran()), allow_abort_jobs=True)
