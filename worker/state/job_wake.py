"""Wake-ups of idle workers: each job the service queues also pushes a token.

arq's worker looks at its queue every `poll_delay`; to start a job fast it must poll often,
which costs CPU on the worker and on Redis all day. Instead every enqueue of the service
(`reconcile_queue`, `changes`) pushes a token onto `keys.jobs_wake(queue)`, and an idle worker
blocks on that list (BLPOP, `worker.state.waking_worker`). One token wakes one worker,
which reads every due job. The list is kept short: a token says only "look at the queue".
"""

from __future__ import annotations

from typing import Final

from arq.connections import ArqRedis
from arq.constants import default_queue_name
from redis.asyncio.client import Pipeline

from worker import keys

#: Tokens kept at most: enough to wake every worker of a deployment once.
TOKENS_KEPT: Final = 16


def stage_wake(pipe: Pipeline[bytes], queue_name: str = default_queue_name) -> None:
    """Add the push of one wake-up token for `queue_name` to a pipeline or transaction."""
    key = keys.jobs_wake(queue_name)
    pipe.lpush(key, b"1")
    pipe.ltrim(key, 0, TOKENS_KEPT - 1)


async def wake_worker(arq: ArqRedis, queue_name: str | None = None) -> None:
    """Push one wake-up token for `queue_name` (default: the pool's queue), after a job was
    queued by arq's own `enqueue_job`."""
    async with arq.pipeline(transaction=False) as pipe:
        stage_wake(pipe, queue_name or arq.default_queue_name)
        await pipe.execute()
