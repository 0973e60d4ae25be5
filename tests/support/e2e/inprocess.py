"""The in-process stack: sandbox, webhook service and arq workers in the test's event loop.

- The webhook service is the real Starlette app (`create_app(settings)`) with its lifespan
  running; the sandbox's NCS sender posts to it through `httpx.ASGITransport`.
- The sandbox serves Agora's REST API on a real loopback port (`running_sandbox`), so the
  workers' Agora client goes through a real HTTP stack.
- Each worker is the one `autorec worker` runs (`create_worker(settings)`), running (not
  burst) as a task: the events consumer, the controller's jobs and its cron, as deployed.
Redis is the session's real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
from arq.worker import Worker
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.e2e.env import StackSecrets, autorec_env, settings_from
from tests.support.e2e.sandbox_admin import SandboxAdmin
from tests.support.waiting import eventually
from webhooks.app import create_app
from worker.main import create_worker
from worker.redis_target import parse_redis_url
from worker.settings import Settings
from worker.state.connection import connect

#: Where the sandbox believes the webhook service lives; the ASGI transport ignores the host.
NCS_URL = "http://webhooks.e2e/webhooks/agora"
STARTUP_TIMEOUT_S = 10.0
#: Longer than any job's timeout (worker.main: 15 s).
JOB_DRAIN_TIMEOUT_S = 20.0


class InProcessWorker:
    """One arq worker process's worth of work, as a task in this event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The worker `autorec worker` runs: it waits for work instead of polling.
        self.worker: Worker = create_worker(settings, handle_signals=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the worker; return once its startup (consumer included) has finished."""
        self._task = asyncio.create_task(self.worker.async_run(), name="e2e-arq-worker")
        task = self._task

        def started() -> bool:
            if task.done():
                task.result()  # a failed startup fails the test with its own error
                raise AssertionError("the worker stopped during startup")
            return "consumer_task" in self.worker.ctx

        await eventually(started, what="the worker's startup", timeout_s=STARTUP_TIMEOUT_S)

    @property
    def died(self) -> bool:
        """Whether the worker's main loop ended by itself (arq exits when Redis goes away)."""
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        """Stop as on SIGTERM with a completion wait: pick no new job, let running jobs end
        (they are short), run `on_shutdown`, close the pool."""
        if self._task is None:
            return
        self.worker.allow_pick_jobs = False
        jobs = self.worker.tasks

        def drained() -> bool:
            return all(job.done() for job in jobs.values())

        await eventually(drained, what="running jobs to finish", timeout_s=JOB_DRAIN_TIMEOUT_S)
        with warnings.catch_warnings():
            # arq 0.28 closes its pool with redis-py's deprecated `close()`.
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await self.worker.close()
        task, self._task = self._task, None
        if task.done() and not task.cancelled():
            task.exception()  # a worker that died: its error is the scenario, not a failure
            return
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class InProcessStack:
    """A running stack; `admin` is the sandbox (the oracle), `redis` a client of ours."""

    secrets: StackSecrets
    env: dict[str, str]
    """The environment every autorec process of this stack is configured by."""
    sandbox: RunningSandbox
    admin: SandboxAdmin
    redis: aioredis.Redis[bytes]
    webhooks: ASGIApp | None = None
    """The webhook service (its lifespan running), for API calls over ASGI."""
    workers: list[InProcessWorker] = field(default_factory=list)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def api(self, token: str | None = None) -> httpx.AsyncClient:
        """A client of the webhook service's API, with `token` (default: the full API
        token of the stack's environment) as its bearer token."""
        assert self.webhooks is not None
        bearer = token if token is not None else self.env.get("AUTOREC_API_TOKEN", "")
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.webhooks),
            base_url="http://webhooks.e2e/api/v1",
            headers={"Authorization": f"Bearer {bearer}"} if bearer else {},
            timeout=60.0,
        )

    @property
    def settings(self) -> Settings:
        """The settings of this stack's processes."""
        return settings_from(self.env)

    async def add_worker(self) -> InProcessWorker:
        """Start one more worker (its own stream consumer name)."""
        name = f"e2e-worker-{next(self._names)}"
        worker = InProcessWorker(settings_from(self.env, autorec_consumer_name=name))
        await worker.start()
        self.workers.append(worker)
        return worker

    async def restart(self, worker: InProcessWorker) -> InProcessWorker:
        """Stop `worker` (dead or alive) and start a new one with the same settings, as a
        process supervisor (compose's `restart: unless-stopped`) would."""
        await worker.stop()
        replacement = InProcessWorker(worker.settings)
        self.workers[self.workers.index(worker)] = replacement
        await replacement.start()
        return replacement

    async def stop_workers(self) -> None:
        """Stop every worker, last started first."""
        while self.workers:
            await self.workers.pop().stop()


@contextlib.asynccontextmanager
async def in_process_stack(
    redis_url: str,
    *,
    env: Mapping[str, str] | None = None,
    sandbox: Mapping[str, Any] | None = None,
    workers: int = 1,
) -> AsyncIterator[InProcessStack]:
    """Run a stack until the block exits; `env` overrides autorec variables, `sandbox`
    SandboxConfig fields (the sandbox runs with `exit_s=0` so a stop ends a task at once)."""
    secrets = StackSecrets.generate()
    base_env = autorec_env(secrets, redis_url=redis_url, overrides=env)
    webhooks = create_app(settings_from(base_env))
    async with LifespanManager(webhooks) as manager:
        config = SandboxConfig(
            **{
                "app_id": secrets.app_id,
                "customer_id": secrets.customer_id,
                "customer_secret": secrets.customer_secret,
                "app_certificate": secrets.app_certificate,
                "ncs_url": NCS_URL,
                "ncs_secret": secrets.ncs_secret,
                "ncs_transport": httpx.ASGITransport(app=manager.app),
                "exit_s": 0.0,
                "seed": 7,
                **(sandbox or {}),
            }
        )
        async with running_sandbox(config) as running:
            client: aioredis.Redis[bytes] = connect(parse_redis_url(redis_url))
            stack = InProcessStack(
                secrets=secrets,
                env={**base_env, "AGORA_API_URLS": running.url},
                sandbox=running,
                admin=SandboxAdmin(running.url),
                redis=client,
                webhooks=manager.app,
            )
            try:
                for _ in range(workers):
                    await stack.add_worker()
                yield stack
            finally:
                await stack.stop_workers()
                await stack.admin.aclose()
                await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5


#: The e2e `stack` fixture: `async with stack(env={...}, sandbox={...}, workers=n) as s:`.
StackFactory = Callable[..., AbstractAsyncContextManager[InProcessStack]]
