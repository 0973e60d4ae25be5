"""arq's worker, waiting for work instead of polling for it.

arq's `Worker.main` looks at the queue every `poll_delay` seconds whether or not anything
was queued. `WakingWorker` keeps everything else of arq — the queue, the job records and
results, the in-progress keys, retries, cron jobs and the health record — and replaces only
the pause between two looks: after a look that started nothing it waits until the first of

- a wake-up token on `keys.jobs_wake(queue)` (pushed with every job the service queues, see
  `worker.state.job_wake`; a background task blocks on the list and takes one token at a
  time; while this worker runs `max_jobs` jobs it takes none and pushes back one it got, so
  the token reaches a worker that can start the job);
- the end of one of its own jobs (a slot is free; the job may have queued a retry);
- the score of the earliest deferred job (a delayed wake-up, a retry's back-off);
- the next cron run (enqueued shortly before its time, as arq does) and health record;
- `idle_check_s` at the latest, for a job queued by a program that pushes no token and for
  a job whose worker died (its in-progress key expires).

A look that started a job is followed by another at once: there may be more due jobs than
one look reads. Abortable jobs (`allow_abort_jobs`) are checked at each look only, so this
worker does not offer them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from time import time
from typing import Any, Final

from arq.connections import create_pool, log_redis_info
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import RedisError

from worker import keys
from worker.state.job_wake import wake_worker

logger = logging.getLogger(__name__)

#: Longest block of one BLPOP, in seconds (below any socket timeout of the pool).
WAKE_BLOCK_S: Final = 5.0
#: Pause before blocking again after Redis failed the BLPOP.
WAKE_RETRY_S: Final = 1.0
#: A cron job is looked at this long before its time; arq enqueues it deferred to its time.
CRON_LEAD_S: Final = 0.5


class WakingWorker(Worker):
    """An arq `Worker` that waits for work (module docstring)."""

    def __init__(self, *args: Any, idle_check_s: float = 1.0, **kwargs: Any) -> None:
        if kwargs.get("allow_abort_jobs"):
            raise ValueError("a waking worker does not offer abortable jobs")
        super().__init__(*args, **kwargs)
        self.idle_check_s = idle_check_s
        self._wake_key = keys.jobs_wake(self.queue_name)
        self._woken = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._started = 0
        self.looks = 0
        """Looks at the queue so far (for tests and benches)."""

    async def main(self) -> None:
        """arq's `Worker.main`, with `_wait` between looks instead of a fixed poll delay."""
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        logger.info(
            "Starting worker for %d functions: %s", len(self.functions), ", ".join(self.functions)
        )
        await log_redis_info(self.pool, logger.info)
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)

        waker = asyncio.create_task(self._take_wakeups(), name="autorec-job-wakeups")
        try:
            while True:
                self._woken.clear()
                started = self._started
                self.looks += 1
                await self._poll_iteration()
                if self.burst and await self._burst_done():
                    return
                if self._started == started:
                    await self._wait(await self._idle_wait_s())
                else:
                    await asyncio.sleep(0)
        finally:
            waker.cancel()

    def request_stop(self) -> None:
        """End `main` after the running jobs, starting no other (arq's burst exit), now
        rather than after the current wait."""
        self.burst = True
        self.max_burst_jobs = 0
        self._woken.set()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        before = len(self.tasks)
        await super().start_jobs(job_ids)
        # `tasks` loses finished jobs only after `start_jobs`, in the same look.
        self._started += len(self.tasks) - before

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()
        self._woken.set()

    async def _burst_done(self) -> bool:
        """arq's end of a burst: the burst's job budget spent, or the queue empty."""
        if 0 <= self.max_burst_jobs <= self._jobs_started() or not await self.pool.zcard(
            self.queue_name
        ):
            await asyncio.gather(*self.tasks.values())
            return True
        return False

    async def _wait(self, timeout_s: float) -> None:
        """Until woken (a token, one of our jobs ended) or `timeout_s` passed."""
        if timeout_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout=timeout_s)

    async def _idle_wait_s(self) -> float:
        """Seconds until something is due that no token announces (module docstring)."""
        now_ms = timestamp_ms()
        waits = [self.idle_check_s]
        deferred = await self.pool.zrangebyscore(
            self.queue_name, min=f"({now_ms}", max="+inf", start=0, num=1, withscores=True
        )
        if deferred:
            waits.append((float(deferred[0][1]) - now_ms) / 1000)
        now = datetime.now(tz=self.timezone)
        for cron_job in self.cron_jobs:
            if cron_job.next_run is not None:
                waits.append((cron_job.next_run - now).total_seconds() - CRON_LEAD_S)
        waits.append(self._last_health_check + self.health_check_interval - time())
        return max(0.0, min(waits))

    async def _take_wakeups(self) -> None:
        """Take wake-up tokens one at a time while this worker has a free job slot."""
        while True:
            while self.job_counter >= self.max_jobs:
                self._slot_freed.clear()
                await self._slot_freed.wait()
            try:
                token = await self.pool.blpop([self._wake_key], timeout=WAKE_BLOCK_S)
            except (RedisError, OSError) as exc:
                # The looks at the queue meet the same failure and end the worker as arq
                # does; until then, keep trying.
                logger.debug("waiting for job wake-ups failed: %s", exc)
                await asyncio.sleep(WAKE_RETRY_S)
                continue
            if token is None:
                continue
            if self.job_counter < self.max_jobs:
                self._woken.set()
                continue
            # Full since the BLPOP began: the token is for a worker with room.
            try:
                await wake_worker(self.pool, self.queue_name)
            except (RedisError, OSError) as exc:
                logger.debug("passing a job wake-up on failed: %s", exc)
