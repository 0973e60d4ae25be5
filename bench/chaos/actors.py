"""What happens during a chaos run: users joining and leaving at random, workers and Redis
killed, Agora failing (errors, slow answers, HA failovers, killed tasks, disturbed NCS), and
fuzzed bodies posted to the webhook service. Each actor runs until cancelled."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.chaos import fuzz
from bench.chaos.figures import LEAVE_TYPES, Move
from bench.chaos.stack import ChaosStack
from tests.support.e2e.sandbox_admin import Recording, SandboxAdmin
from webhooks.signatures import Webhook

#: Users per channel at most, and the uids they use (channel n: n*100 + 1 .. + MAX_USERS).
MAX_USERS = 3


@dataclass(frozen=True)
class ChaosOptions:
    """The compound-fault scenario, every knob with its default."""

    duration_s: float = 300.0
    seed: int = 1
    channels: int = 36
    limit: int = 8
    qps: float = 10.0
    grace_s: float = 2.0
    interval_s: float = 4.0
    #: Mean seconds a channel stays empty, and between two moves in an occupied channel.
    empty_mean_s: float = 20.0
    move_mean_s: float = 8.0
    #: Chance that a move in an occupied channel (below MAX_USERS) is a join.
    join_chance: float = 0.35
    worker_kill_every_s: tuple[float, float] = (20.0, 40.0)
    worker_restart_after_s: float = 1.0
    redis_kills: int = 2
    redis_down_s: float = 2.0
    agora_error_rate: float = 0.05
    agora_slow_rate: float = 0.05
    agora_slow_ms: float = 1500.0
    lost_start_answer_rate: float = 0.03
    failover_every_s: tuple[float, float] = (10.0, 20.0)
    failover_not_found_s: tuple[float, float] = (8.0, 25.0)
    task_kill_every_s: tuple[float, float] = (15.0, 30.0)
    ncs_leave_drop_rate: float = 0.10
    ncs_duplicate_rate: float = 0.10
    ncs_reorder_rate: float = 0.05
    fuzz_every_s: float = 0.5


@dataclass
class Record:
    """What the actors did, for the figures."""

    moves: list[Move] = field(default_factory=list)
    present: dict[str, set[int]] = field(default_factory=dict)
    fuzz_answers: list[tuple[float, int | None]] = field(default_factory=list)
    failovers: int = 0
    #: Channel → HA failover windows of its tasks (Unix ms).
    failover_windows: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    task_kills: int = 0
    user_uids: set[int] = field(default_factory=set)


def channel_name(n: int) -> str:
    """The n-th channel of the run."""
    return f"chaos-{n:02d}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _move(admin: SandboxAdmin, record: Record, channel: str, uid: int, join: bool) -> None:
    began = _now_ms()
    if join:
        await admin.join(channel, uid)
        record.present.setdefault(channel, set()).add(uid)
    else:
        await admin.leave(channel, uid)
        record.present[channel].discard(uid)
    record.moves.append(Move((began + _now_ms()) // 2, channel, uid, join))


async def channel_users(
    admin: SandboxAdmin, record: Record, options: ChaosOptions, n: int, rng: random.Random
) -> None:
    """One channel's users: empty for a while, then joins and leaves until empty again."""
    channel = channel_name(n)
    uids = [n * 100 + k for k in range(1, MAX_USERS + 1)]
    record.user_uids.update(uids)
    await asyncio.sleep(rng.uniform(0, options.empty_mean_s))
    while True:
        present = record.present.setdefault(channel, set())
        if not present:
            await _move(admin, record, channel, rng.choice(uids), join=True)
        await asyncio.sleep(rng.expovariate(1 / options.move_mean_s))
        absent = [uid for uid in uids if uid not in present]
        if absent and rng.random() < options.join_chance:
            await _move(admin, record, channel, rng.choice(absent), join=True)
            continue
        await _move(admin, record, channel, rng.choice(sorted(present)), join=False)
        if not present:
            await asyncio.sleep(rng.expovariate(1 / options.empty_mean_s))


async def everyone_leaves(admin: SandboxAdmin, record: Record) -> None:
    """The quiet tail begins: every user still in a channel leaves."""
    for channel, present in sorted(record.present.items()):
        for uid in sorted(present):
            await _move(admin, record, channel, uid, join=False)


async def worker_killer(
    stack: ChaosStack, index: int, options: ChaosOptions, rng: random.Random
) -> None:
    """SIGKILL one worker every 20-40 s and start it again."""
    worker = stack.workers[index]
    while True:
        await asyncio.sleep(rng.uniform(*options.worker_kill_every_s))
        await stack.kill_worker(worker, options.worker_restart_after_s)


async def redis_killer(stack: ChaosStack, options: ChaosOptions) -> None:
    """SIGKILL Redis `redis_kills` times, evenly spread over the run."""
    every_s = options.duration_s / (options.redis_kills + 1)
    for _ in range(options.redis_kills):
        await asyncio.sleep(every_s)
        await stack.kill_redis(options.redis_down_s)
    await asyncio.Event().wait()


async def add_agora_faults(admin: SandboxAdmin, options: ChaosOptions) -> None:
    """Rules for the whole run: 5xx, slow answers, lost start answers, disturbed NCS."""
    await admin.add_fault(
        endpoint="start", status=504, code=62, after=True, rate=options.lost_start_answer_rate
    )
    await admin.add_fault(endpoint="*", status=503, rate=options.agora_error_rate)
    await admin.add_fault(
        endpoint="*", latency_ms=options.agora_slow_ms, rate=options.agora_slow_rate
    )
    await admin.add_fault(
        ncs_drop_rate=options.ncs_leave_drop_rate, ncs_event_types=sorted(LEAVE_TYPES)
    )
    await admin.add_fault(ncs_duplicate_rate=options.ncs_duplicate_rate)
    await admin.add_fault(ncs_reorder=True, rate=options.ncs_reorder_rate)


async def _a_running_task(admin: SandboxAdmin, rng: random.Random) -> Recording | None:
    running = [task for tasks in (await admin.running()).values() for task in tasks]
    return rng.choice(running) if running else None


async def failovers(
    admin: SandboxAdmin, record: Record, options: ChaosOptions, rng: random.Random
) -> None:
    """Now and then a running task fails over: NCS 12, then 404 on query/stop for a while.

    Every window closes before the run's end, so the quiet tail starts with no task that
    Agora cannot stop."""
    ends_at = time.monotonic() + options.duration_s
    while True:
        await asyncio.sleep(rng.uniform(*options.failover_every_s))
        window_s = min(rng.uniform(*options.failover_not_found_s), ends_at - time.monotonic() - 1)
        task = await _a_running_task(admin, rng)
        if task is None or window_s < options.failover_not_found_s[0]:
            continue
        began = _now_ms()
        try:
            await admin.failover(task.sid, not_found_s=window_s)
        except httpx.HTTPStatusError:
            continue  # it ended in between
        record.failovers += 1
        windows = record.failover_windows.setdefault(task.cname, [])
        windows.append((began, _now_ms() + round(window_s * 1000)))


async def task_killer(
    admin: SandboxAdmin, record: Record, options: ChaosOptions, rng: random.Random
) -> None:
    """Now and then a running task dies at Agora (NCS 41, then 11 exitStatus 1)."""
    while True:
        await asyncio.sleep(rng.uniform(*options.task_kill_every_s))
        task = await _a_running_task(admin, rng)
        if task is not None:
            try:
                await admin.kill(task.sid)
                record.task_kills += 1
            except httpx.HTTPStatusError:
                pass


async def fuzzer(
    webhooks_url: str,
    ncs_secret: str,
    events_secret: str,
    record: Record,
    options: ChaosOptions,
    rng: random.Random,
) -> None:
    """Post fuzzed bodies: signed NCS, badly signed NCS and signed app events."""
    webhook = Webhook(events_secret)
    async with httpx.AsyncClient(base_url=webhooks_url, timeout=10.0) as http:
        n = 0
        while True:
            await asyncio.sleep(options.fuzz_every_s)
            n += 1
            kind = rng.random()
            if kind < 0.7:
                body = fuzz.ncs_body(rng, n)
                digest = hmac.new(ncs_secret.encode(), body, hashlib.sha256).hexdigest()
                headers = {"Agora-Signature-V2": digest, "Content-Type": "application/json"}
                path = "/webhooks/agora"
            elif kind < 0.8:
                body = fuzz.ncs_body(rng, n)
                headers = {"Agora-Signature-V2": "0" * 64}
                path = "/webhooks/agora"
            else:
                body = fuzz.app_event_body(rng, n)
                headers = webhook.headers(f"fuzz-app-{n}", datetime.now(UTC), body)
                path = "/webhooks/events"
            sent_at = time.monotonic()
            try:
                status: int | None = (
                    await http.post(path, content=body, headers=headers)
                ).status_code
            except httpx.HTTPError:
                status = None
            record.fuzz_answers.append((sent_at, status))
