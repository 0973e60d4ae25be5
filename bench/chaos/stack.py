"""The chaos stack: redis-server with its append-only file, the sandbox, the webhook service
and two workers, all real processes on loopback, plus what kills and revives them.

The sandbox, webhook and worker children are the end-to-end tests' process stack
(`tests/support/e2e/procstack.py`); Redis is `worker.dev.redis_server.RedisServer` with AOF.
A dead worker is started again at once, as compose's restart policy does (arq's worker exits
when Redis goes away).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.e2e.procstack import Child, ProcessStack, process_stack
from worker.dev.redis_server import RedisServer

#: How often the supervisor looks for dead workers.
SUPERVISE_S = 0.5


@dataclass
class ChaosStack:
    """The running processes; `redis_down` holds each outage as (from, to) monotonic s."""

    redis: RedisServer
    procs: ProcessStack
    workers: list[Child]
    redis_down: list[tuple[float, float]] = field(default_factory=list)
    worker_kills: int = 0
    worker_restarts: int = 0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, worker: Child) -> asyncio.Lock:
        """Held while a worker is being killed or started, so only one party does it."""
        return self._locks.setdefault(worker.name, asyncio.Lock())

    async def kill_redis(self, down_s: float) -> None:
        """SIGKILL redis-server, keep it down `down_s`, start it again from its AOF."""
        process = self.redis.process
        assert process is not None
        began = time.monotonic()
        process.kill()
        await asyncio.to_thread(process.wait)
        self.redis.process = None
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.redis.start)
        self.redis_down.append((began, time.monotonic()))

    async def kill_worker(self, worker: Child, restart_after_s: float) -> None:
        """SIGKILL one worker, then start it again under the same consumer name."""
        async with self.lock(worker):
            await worker.kill()
            self.worker_kills += 1
            await asyncio.sleep(restart_after_s)
            await self._start(worker)

    async def _start(self, worker: Child) -> None:
        try:
            await worker.start()
            self.worker_restarts += 1
        except AssertionError:
            pass  # it exited while starting (Redis down): the supervisor tries again

    async def supervise(self) -> None:
        """Restart workers that died (forever; cancel to stop)."""
        while True:
            await asyncio.sleep(SUPERVISE_S)
            for worker in self.workers:
                process = worker.process
                if process is not None and process.returncode is None:
                    continue
                lock = self.lock(worker)
                if lock.locked():
                    continue
                async with lock:
                    await self._start(worker)

    async def all_workers_up(self) -> bool:
        """Whether every worker process is running."""
        return all(w.process is not None and w.process.returncode is None for w in self.workers)


@contextlib.asynccontextmanager
async def chaos_stack(
    log_dir: Path, *, env: Mapping[str, str], sandbox_env: Mapping[str, str], workers: int = 2
) -> AsyncIterator[ChaosStack]:
    """Start everything; on exit stop every process this started, whatever happened."""
    redis = RedisServer(appendonly=True, data_dir=log_dir / "redis")
    (log_dir / "redis").mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(redis.start)
    try:
        async with process_stack(redis.url, log_dir, env=env, sandbox_env=sandbox_env) as procs:
            children = [procs.worker(f"chaos-w{n + 1}") for n in range(workers)]
            stack = ChaosStack(redis=redis, procs=procs, workers=children)
            for child in children:
                await child.start()
            yield stack
    finally:
        await asyncio.to_thread(redis.cleanup)
