"""The controller stack for tests: the controller against the sandbox on a real port and a real
Redis, built as `worker.main.startup` builds it (fast timings).

`Stack` offers channel helpers that change both the sandbox (who is really in the channel) and
our channel state (what the events would have said), and runs arq jobs with a background
worker. The fixtures that build one live in tests/worker/controller/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from typing import Any, cast

import httpx
from arq.connections import ArqRedis
from arq.typing import WorkerCoroutine
from arq.worker import Worker, func

from sandbox.models import Profile
from sandbox.models import Role as SandboxRole
from sandbox.recordings import Task
from sandbox.testing import RunningSandbox
from sandbox.world import Sandbox
from worker.agora import RetryPolicy
from worker.controller.deps import ControllerDeps, build_deps, controller_config
from worker.controller.effects import Effects
from worker.controller.loop import Controller
from worker.controller.metrics import ControllerMetrics
from worker.controller.recording_events import RecordingEventHandler
from worker.events import (
    ChannelEvent,
    ChannelEventKind,
    EventSource,
    RecordingDetails,
    RecordingEvent,
    RecordingEventType,
    Role,
)
from worker.functions import WorkerContext
from worker.functions.reconcile_channel import ReconcileFailed, reconcile_channel
from worker.policies import PolicySet
from worker.settings import Settings
from worker.state.reconcile_queue import RECONCILE_FUNCTION, enqueue_reconcile
from worker.state.sessions import Session, SessionState

#: The empty-channel grace of the default test policy (s).
GRACE_S = 0.2
#: Multiplies every Agora duration of the sandbox (resource TTL, idle exit, status steps).
TIME_SCALE = 0.05


@dataclasses.dataclass
class Stack:
    """The controller, its sandbox and helpers."""

    sandbox: RunningSandbox
    settings: Settings
    arq: ArqRedis
    controller: Controller
    ctx: WorkerContext
    _seq: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))
    _worker: Worker | None = None
    _worker_task: asyncio.Task[Any] | None = None

    @property
    def world(self) -> Sandbox:
        return self.sandbox.world

    @property
    def deps(self) -> ControllerDeps:
        return self.controller.deps

    @property
    def effects(self) -> Effects:
        return self.controller.effects

    async def apply(self, channel: str, uid: int, kind: ChannelEventKind, role: Role) -> None:
        """Apply one channel event to our state and wake the reconcile on a flip."""
        seq = next(self._seq)
        event = ChannelEvent(
            channel,
            uid,
            kind,
            role,
            seq,
            1_700_000_000_000 + seq,
            False,
            f"e{seq}",
            EventSource.APP,
        )
        result = await self.deps.occupancy.apply(self.arq, event, self.deps.rules(channel))
        if result.changed:
            await enqueue_reconcile(self.arq, channel, result.gen)

    async def join(self, channel: str, uid: int, *, role: str = "host") -> None:
        """A user joins (sandbox and our state)."""
        if role == "communication":
            self.world.join(
                channel, uid, role=SandboxRole.HOST, profile=Profile.COMMUNICATION, platform=7
            )
            await self.apply(channel, uid, ChannelEventKind.JOIN, Role.COMMUNICATION)
        else:
            sandbox_role = SandboxRole.HOST if role == "host" else SandboxRole.AUDIENCE
            self.world.join(channel, uid, role=sandbox_role, profile=Profile.LIVE, platform=7)
            await self.apply(channel, uid, ChannelEventKind.JOIN, Role(role))

    async def apply_join_only(self, channel: str, uid: int) -> None:
        """Our state hears of a join the sandbox never saw (nobody publishes)."""
        await self.apply(channel, uid, ChannelEventKind.JOIN, Role.COMMUNICATION)

    async def apply_leave_only(self, channel: str, uid: int) -> None:
        """Our state hears of a leave (the sandbox is unchanged)."""
        await self.apply(channel, uid, ChannelEventKind.LEAVE, Role.COMMUNICATION)

    async def leave(self, channel: str, uid: int, *, role: str = "host") -> None:
        """A user leaves (sandbox and our state)."""
        self.world.leave(channel, uid)
        await self.apply(channel, uid, ChannelEventKind.LEAVE, Role(role))

    def running(self, channel: str | None = None) -> list[Task]:
        """Tasks running at the sandbox (of one channel)."""
        self.world.tick()
        return [
            t
            for t in self.world.tasks.values()
            if t.phase.value == "running" and (channel is None or t.cname == channel)
        ]

    async def recording_event(
        self, channel: str, event_type: int, *, sid: str, uid: int, sequence: int, **details: Any
    ) -> None:
        """Hand one recording event to the handler, as the consumer would."""
        event = RecordingEvent(
            channel=channel,
            uid=uid,
            sid=sid,
            event_type=RecordingEventType(event_type),
            sequence=sequence,
            sendts_ms=1_700_000_000_000 + sequence,
            service_type=0,
            msg_name="",
            details=RecordingDetails(**details),
            event_id=f"rec-{sid}-{sequence}",
        )
        await RecordingEventHandler(self.effects).handle(event)

    async def until_state(self, channel: str, *states: SessionState) -> Session:
        """Reconcile `channel` until its session is in one of `states` (or fail)."""
        for _ in range(50):
            current = await self.session(channel)
            if current is not None and current.state in states:
                return current
            await self.reconcile(channel)
            await asyncio.sleep(0.02)
        raise AssertionError(f"{channel} never reached {states}")

    async def session(self, channel: str) -> Session | None:
        return await self.deps.sessions.get(channel)

    async def reconcile(self, channel: str) -> str:
        """One reconcile job run, called directly; its actions, also when an Agora call
        failed (which ends the arq job as failed)."""
        try:
            return await reconcile_channel(self.ctx, channel)
        except ReconcileFailed as failed:
            return failed.summary

    async def start_worker(self) -> None:
        """Run reconcile jobs in the background (as a deployed worker would)."""
        self._worker = Worker(
            functions=[
                func(
                    cast("WorkerCoroutine", reconcile_channel),
                    name=RECONCILE_FUNCTION,
                    timeout=20,
                    keep_result=300,
                    max_tries=120,
                )
            ],
            redis_pool=self.arq,
            ctx=cast("dict[Any, Any]", self.ctx),
            poll_delay=0.01,
            max_jobs=100,
            handle_signals=False,
        )
        self._worker_task = asyncio.create_task(self._worker.main())

    async def stop_worker(self) -> None:
        """Stop the worker gracefully: it ends its current poll and awaits its running jobs
        (arq's burst exit), so no job or Redis command is cut off mid-way."""
        if self._worker_task is None or self._worker is None:
            return
        self._worker.burst = True
        self._worker.max_burst_jobs = 0
        try:
            await asyncio.wait_for(asyncio.shield(self._worker_task), timeout=10)
        except TimeoutError:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
        self._worker_task = None
        self._worker = None


def make_settings(sandbox: RunningSandbox, redis_url: str, **overrides: Any) -> Settings:
    config = sandbox.config
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "agora_app_id": config.app_id,
        "agora_customer_id": config.customer_id,
        "agora_customer_secret": config.customer_secret,
        "agora_api_urls": sandbox.url,
        "autorec_empty_grace_s": GRACE_S,
        "autorec_max_recordings": 50,
        "autorec_max_api_qps": 200,
        "autorec_reconcile_timeout_s": 20,
        "autorec_worker_metrics_port": 0,
        "storage_vendor": 1,
        "storage_region": 0,
        "storage_bucket": "autorec-test",
        "storage_access_key": "AKIATESTACCESSKEY",
        "storage_secret_key": "storage-secret-key-for-tests",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def build_stack(
    sandbox: RunningSandbox,
    redis_url: str,
    arq: ArqRedis,
    http: httpx.AsyncClient,
    *,
    policies: PolicySet | None = None,
    metrics: ControllerMetrics | None = None,
    **overrides: Any,
) -> Stack:
    settings = make_settings(sandbox, redis_url, **overrides)
    config = dataclasses.replace(
        controller_config(settings),
        confirm_delay_ms=100,
        not_found_backoff_ms=(100, 200, 300),
        # Scaled down like the sandbox's durations, unless a test sets the window itself.
        failover_window_ms=int(float(overrides.get("autorec_failover_window_s", 0.6)) * 1000),
        retry_delay_ms=100,
        no_capacity_retry_ms=200,
        failure_backoff_ms=500,
        stop_failure_retry_ms=200,
        user_list_quiet_ms=0,
        sid_probe_ms=300,
    )
    deps = build_deps(
        settings,
        arq=arq,
        http=http,
        config=config,
        policies=policies,
        retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, total_timeout_s=5),
        metrics=metrics,
    )
    controller = Controller(deps)
    ctx: WorkerContext = {"redis": arq, "settings": settings, "controller": controller}
    return Stack(sandbox, settings, arq, controller, ctx)
