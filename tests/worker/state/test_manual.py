"""Manual control writes the override and the reconcile job together, or neither."""

from __future__ import annotations

import redis.asyncio as aioredis
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import deserialize_job

from worker import keys
from worker.policies import PolicySet, builtin_default
from worker.state.history import HistoryStore
from worker.state.manual import ManualControl


def manual(redis: aioredis.Redis) -> ManualControl:
    policies = PolicySet(rules=(), default=builtin_default(grace_s=30))
    return ManualControl(redis, policies, HistoryStore(redis, history_days=1))


async def test_record_now_queues_the_channels_reconcile_job_with_the_override(
    redis: aioredis.Redis,
) -> None:
    override = await manual(redis).record("room-1", fields={"mode": "individual"})

    (job_id,) = [j.decode() for j in await redis.zrange(default_queue_name, 0, -1)]
    assert job_id.startswith(f"reconcile:room-1:0:o{override.set_at_ms}-")
    job = deserialize_job(await redis.get(job_key_prefix + job_id))
    assert (job.function, job.args) == ("reconcile_channel", ("room-1",))
    assert await redis.hget(keys.override("room-1"), "record") == b"always"


async def test_back_to_automatic_queues_a_reconcile_and_says_whether_there_was_an_override(
    redis: aioredis.Redis,
) -> None:
    control = manual(redis)
    await redis.hset(keys.channel("room-1"), mapping={"occupancy": 1, "desired": 1, "gen": 1})
    await control.stop("room-1")
    assert await control.automatic("room-1")
    assert not await control.automatic("room-1")
    assert await redis.zcard(default_queue_name) == 3


async def test_stopping_a_channel_never_seen_writes_nothing(redis: aioredis.Redis) -> None:
    assert await manual(redis).stop("nobody") is None
    assert await redis.dbsize() == 0
    assert await redis.exists(keys.override("room-1")) == 0
