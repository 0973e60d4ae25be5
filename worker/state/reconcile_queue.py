"""Wake-ups of the per-channel reconcile job: the arq enqueue and its crash-safe outbox.

When a channel's desired recording state flips, the occupancy script bumps the channel's
`gen` and, in the same atomic step, records `channel → gen` in `keys.RECONCILE_DUE`. The
consumer then enqueues `reconcile_channel(channel)` under the job id
`reconcile:<channel>:<gen>` and clears the mark (`reconcile_queue_clear_due.lua`). A crash
between the two leaves the mark, and the next sweep enqueues it: no flip is ever left
without a job. One id per generation means an enqueue made while an older job of the
channel runs is never swallowed by arq's job-id deduplication.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from worker import keys
from worker.state.job_wake import stage_wake, wake_worker
from worker.state.scripts import LuaScript

#: The arq function name of the per-channel reconcile job.
RECONCILE_FUNCTION: Final = "reconcile_channel"

#: How long a queued job record lives if no worker takes it (arq's default).
_JOB_EXPIRES_MS: Final = 86_400_000

_CLEAR_DUE: Final = LuaScript("worker.state", "reconcile_queue_clear_due.lua")


def reconcile_job_id(channel: str, gen: int, tag: str | None = None) -> str:
    """The arq job id of the reconcile for one generation of a channel's desired state.

    The controller's own wake-ups (a deferred check, a slot freed) add a `tag` such as
    `t<due_ms>`, so they never collide with the generation's job, which may be running or
    still keep its result.
    """
    base = f"reconcile:{channel}:{gen}"
    return base if tag is None else f"{base}:{tag}"


async def enqueue_reconcile(
    arq: ArqRedis,
    channel: str,
    gen: int,
    *,
    defer_s: float | None = None,
    tag: str | None = None,
) -> bool:
    """Enqueue `reconcile_channel(channel)` for generation `gen`, optionally deferred.

    Enqueuing an id that is already queued, running or finished with a kept result is a
    no-op (arq deduplicates by job id; returns False), so a repeated wake-up is harmless.
    A queued job also wakes an idle worker (`job_wake`).
    """
    job = await arq.enqueue_job(
        RECONCILE_FUNCTION,
        channel,
        _job_id=reconcile_job_id(channel, gen, tag),
        _defer_by=defer_s if defer_s is None or defer_s > 0 else None,
    )
    if job is None:
        return False
    await wake_worker(arq)
    return True


def stage_reconcile(pipe: Pipeline[bytes], channel: str, gen: int, *, tag: str) -> None:
    """Add the enqueue of `reconcile_channel(channel)` (job id tagged `tag`, unique) to a
    transaction, so the job is queued if and only if the rest of the transaction is written.

    What arq's `enqueue_job` writes (the job record and its queue entry, in arq's own format
    so queue dashboards read it), without its check for an existing id: a tag must make the
    id new (e.g. the time of the change that asks for the reconcile). It wakes an idle
    worker too (`job_wake`).
    """
    job_id = reconcile_job_id(channel, gen, tag)
    now_ms = timestamp_ms()
    job = serialize_job(RECONCILE_FUNCTION, (channel,), {}, None, now_ms)
    pipe.psetex(job_key_prefix + job_id, _JOB_EXPIRES_MS, job)
    pipe.zadd(default_queue_name, {job_id: now_ms})
    stage_wake(pipe)


async def clear_due(redis: aioredis.Redis[bytes], wakeups: Iterable[tuple[str, int]]) -> None:
    """Drop each (channel, gen) wake-up mark, unless a newer generation replaced it."""
    runs = [((keys.RECONCILE_DUE,), (channel, gen)) for channel, gen in wakeups]
    for reply in await _CLEAR_DUE.run_pipelined(redis, runs):
        if isinstance(reply, RedisError):
            raise reply


async def due_wakeups(redis: aioredis.Redis[bytes], *, limit: int = 100) -> list[tuple[str, int]]:
    """Up to `limit` pending wake-ups as (channel, gen)."""
    rows = await redis.zrange(keys.RECONCILE_DUE, 0, limit - 1, withscores=True)
    return [(_text(member), int(score)) for member, score in rows]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
